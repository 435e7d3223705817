// A test plug-in whose entry point throws an int: pio-node must refuse it with an error (exit
// 1), not abort.
#include "actors/plugin.h"

extern "C" void pio_plugin_register(pio::PluginRegistry&) { throw 7; }
