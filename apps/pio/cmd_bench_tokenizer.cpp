// pio bench-tokenizer: encode throughput (MB/s) on one thread and on all cores.
// tools/goldens/bench_reference.mjs writes the text and measures the npm reference on it.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "apps/pio/bench_util.h"
#include "apps/pio/commands.h"
#include "apps/pio/option_checks.h"
#include "model/errors.h"
#include "model/tokenizer/tokenizer.h"

namespace pio::cli {

namespace {

// Documents are the text's lines, the unit both the C++ and node benchmarks encode.
std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(path + ": cannot open");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line + "\n");
  return lines;
}

template <typename F>
double median_seconds(int runs, F&& run) {
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    times.push_back(seconds_since(t0));
  }
  return median(std::move(times));
}

}  // namespace

void add_bench_tokenizer(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench-tokenizer", "Measure encode throughput (MB/s)");
  struct Args {
    std::string model, text;
    int runs = 5;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  add_model_option(cmd, a->model)->required();
  cmd->add_option("--text", a->text, "text file (see tools/goldens/bench_reference.mjs)")->required();
  cmd->add_option("--runs", a->runs, "timed runs; the median is reported")->default_val(5)->check(integer_in(1, kMaxRuns));
  add_threads_option(cmd, a->threads, "threads of the parallel run");
  cmd->callback([a] {
    const auto tokenizer = load_tokenizer(a->model);
    const auto docs = read_lines(a->text);
    double mb = 0;
    for (const auto& d : docs) mb += static_cast<double>(d.size()) / 1e6;
    std::size_t tokens = 0;
    for (const auto& d : docs) tokenizer->encode(d);  // untimed: fills the tokenizer's caches for both runs
    const double single = median_seconds(a->runs, [&] {
      tokens = 0;
      for (const auto& d : docs) tokens += tokenizer->encode(d).size();
    });
    const unsigned threads =
        a->threads > 0 ? static_cast<unsigned>(a->threads) : std::max(1u, std::thread::hardware_concurrency());
    const double parallel = median_seconds(a->runs, [&] { tokenizer->encode_batch(docs, threads); });
    std::cout << "text: " << mb << " MB, " << docs.size() << " lines, " << tokens << " tokens\n"
              << "encode 1 thread:  " << mb / single << " MB/s (median of " << a->runs << ")\n"
              << "encode " << threads << " threads: " << mb / parallel << " MB/s (median of "
              << a->runs << ")\n";
  });
}

}  // namespace pio::cli
