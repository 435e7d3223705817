// A shared library without pio_plugin_register: pio-node must refuse it as a plug-in.
extern "C" int pio_not_a_plugin() { return 1; }
