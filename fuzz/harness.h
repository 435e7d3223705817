// The contract of pio's fuzz targets (scripts/fuzz). Each fuzz_<parser>.cpp defines fuzz_one();
// libfuzzer_entry.cpp turns it into libFuzzer's entry point and replay_main.cpp into a test that
// replays saved inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace pio::fuzz {

// Feeds one input to the parser the way a user's file reaches it, then checks what it gave.
// Returns when the input is accepted; throws pio::ModelError (the documented refusal) when it
// is refused. Anything else (another exception, a crash, a sanitizer report, a failed require)
// is a finding.
void fuzz_one(std::span<const uint8_t> data);

// Runs fuzz_one: nullopt when the input was accepted, else the ModelError's message.
std::optional<std::string> run_one(std::span<const uint8_t> data);

// Aborts, naming `what`, when the parser accepted an input but its result breaks an invariant.
void require(bool ok, const char* what);

}  // namespace pio::fuzz
