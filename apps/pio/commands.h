// Each subcommand of `pio` registers itself on the app; main() calls them all.
#pragma once

#include <CLI/CLI.hpp>

namespace pio::cli {

void add_make_checkpoint(CLI::App& app);
void add_generate(CLI::App& app);
void add_logits(CLI::App& app);
void add_bench(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_detokenize(CLI::App& app);
void add_bench_tokenizer(CLI::App& app);
void add_preprocess(CLI::App& app);
void add_chat(CLI::App& app);
void add_encode_image(CLI::App& app);
void add_stats(CLI::App& app);
void add_bench_serve(CLI::App& app);

}  // namespace pio::cli
