// pio: the Inference-PIO command line.
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include "apps/pio/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"pio: run Qwen3-VL checkpoints (Inference-PIO)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("pio ") + PIO_VERSION);
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
  // A first word that names no subcommand: say so (CLI11 would only ask for a subcommand).
  if (argc > 1 && argv[1][0] != '-') {
    try {
      app.get_subcommand(argv[1]);
    } catch (const CLI::OptionNotFound&) {
      std::cerr << "pio: error: no subcommand '" << argv[1] << "' (pio --help lists them)\n";
      return 2;
    }
  }
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
