#!/usr/bin/env bash
# Runs one CLI test script with a packed-weight cache of its own: XDG_CACHE_HOME in a new
# temporary directory, removed afterwards. Each test makes checkpoints in temporary directories,
# and a pack file is keyed by its checkpoint's path, so in ~/.cache/pio every run would leave
# new ones behind (46 files, 11 GB on this project's machine).
#   run_isolated.sh SCRIPT ARGS...
set -u
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
XDG_CACHE_HOME="$cache" bash "$@"
