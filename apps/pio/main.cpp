// pio: the Inference-PIO command line.
#include <exception>
#include <iostream>
#include <new>

#include "apps/pio/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"pio: run Qwen3-VL checkpoints (Inference-PIO)"};
  app.require_subcommand(1);
  pio::cli::add_make_checkpoint(app);
  pio::cli::add_generate(app);
  pio::cli::add_logits(app);
  pio::cli::add_bench(app);
  pio::cli::add_tokenize(app);
  pio::cli::add_detokenize(app);
  pio::cli::add_bench_tokenizer(app);
  pio::cli::add_preprocess(app);
  pio::cli::add_chat(app);
  pio::cli::add_encode_image(app);
  pio::cli::add_stats(app);
  pio::cli::add_bench_serve(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a refused option or usage exits 2, like getopt tools.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "pio: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "pio: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
