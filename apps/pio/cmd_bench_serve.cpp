// `pio bench-serve --node HOST:PORT --clients N --requests M ...`: the serving benchmark. N
// clients each send requests one after another until M have been sent in all, streaming every
// answer; prints requests/s, aggregate generated tokens/s, time to first token and inter-token
// latency percentiles (client side, from the arrival of each streamed delta), each client's
// decode rate summed over the clients (the streams' aggregate decode), and errors.
#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "actors/client.h"
#include "apps/pio/bench_util.h"
#include "apps/pio/commands.h"
#include "apps/pio/node_requests.h"
#include "apps/pio/option_checks.h"

namespace pio::cli {
namespace {

struct Latencies {
  std::mutex m;
  std::vector<double> ttft_ms, itl_ms;
  int64_t tokens = 0, errors = 0;
  std::string first_error;  // the first failed request's message

  void fail(const std::string& why) {
    ++errors;
    if (first_error.empty()) first_error = why;
  }
};

// One client's decoding: the tokens streamed after each answer's first delta, and the seconds
// from that delta to the answer's last.
struct DecodeTotals {
  int64_t tokens = 0;
  double seconds = 0;
};

// One request, streamed; records its time to first token and the gaps between deltas.
void run_one(Client& client, const ChatRequest& request, Latencies& out, DecodeTotals& decode) {
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0, first_at = t0;
  bool first = true;
  int64_t decoded = 0;
  std::promise<StreamEvent> done;
  std::vector<double> itl;
  double ttft = 0;
  auto on_event = [&](const StreamEvent& e) {
    const auto now = std::chrono::steady_clock::now();
    if (!e.token_ids.empty()) {
      if (first) {
        ttft = std::chrono::duration<double, std::milli>(now - t0).count();
        first_at = now;
      } else {
        itl.push_back(std::chrono::duration<double, std::milli>(now - last).count());
        decoded += static_cast<int64_t>(e.token_ids.size());
      }
      first = false;
      last = now;
    }
    if (e.final) done.set_value(e);
  };
  try {
    client.submit(request, on_event);
  } catch (const std::runtime_error& e) {  // not taken: refused, or the node is lost
    std::lock_guard lock(out.m);
    out.fail(e.what());
    return;
  }
  const StreamEvent end = done.get_future().get();
  std::lock_guard lock(out.m);
  if (end.finish_reason == "error") {
    out.fail(end.error.message);
    return;
  }
  decode.tokens += decoded;
  decode.seconds += std::chrono::duration<double>(last - first_at).count();
  out.ttft_ms.push_back(ttft);
  out.itl_ms.insert(out.itl_ms.end(), itl.begin(), itl.end());
  out.tokens += end.usage.completion_tokens;
}

}  // namespace

void add_bench_serve(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench-serve", "Serving benchmark against a running node");
  struct Args {
    std::string node, prompt = "Describe this image in detail.";
    std::vector<std::string> images;
    int clients = 1, requests = 8, max_tokens = 64;
    bool json = false;
    ClientOptions client;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--node", a->node, "the node (HOST:PORT)")->required()->check(host_port());
  cmd->add_option("--clients", a->clients, "concurrent clients")->default_val(1)->check(integer_in(1, 1024));
  cmd->add_option("--requests", a->requests, "requests in all")->default_val(8)->check(integer_in(1, 1000000));
  cmd->add_option("--image", a->images, "image file sent with every request (repeatable)");
  cmd->add_option("--prompt", a->prompt, "the user's text");
  add_max_tokens_option(cmd, a->max_tokens, 64);
  cmd->add_flag("--json", a->json, "print JSON");
  add_tls_options(cmd, a->client.tls);
  cmd->callback([a] {
    const auto [host, port] = split_host_port(a->node);
    const auto client = Client::connect(host, port, a->client);
    ChatRequest request = one_turn_request(std::nullopt, a->images, a->prompt);
    request.max_tokens = a->max_tokens;
    Latencies lat;
    std::atomic<int> next{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    a->clients = std::min(a->clients, a->requests);  // a client with no request to send is none
    std::vector<DecodeTotals> decode(static_cast<size_t>(a->clients));
    for (int c = 0; c < a->clients; ++c) {
      threads.emplace_back([&, c] {
        ChatRequest mine = request;
        mine.client_id = "bench-" + std::to_string(c);
        while (next.fetch_add(1) < a->requests) run_one(*client, mine, lat, decode[static_cast<size_t>(c)]);
      });
    }
    for (auto& t : threads) t.join();
    if (lat.errors == a->requests) throw std::runtime_error("every request failed; the first: " + lat.first_error);
    if (lat.errors > 0) std::cerr << "pio bench-serve: " << lat.errors << " requests failed; the first: " << lat.first_error << "\n";
    const double seconds = seconds_since(t0);
    double decode_tok_s = 0;  // the clients decode side by side: their rates add up
    for (const auto& d : decode)
      if (d.seconds > 0) decode_tok_s += static_cast<double>(d.tokens) / d.seconds;
    const nlohmann::ordered_json j{{"clients", a->clients},
                                   {"requests", a->requests},
                                   {"seconds", seconds},
                                   {"requests_per_s", a->requests / seconds},
                                   {"output_tok_s", static_cast<double>(lat.tokens) / seconds},
                                   {"decode_tok_s", decode_tok_s},
                                   {"ttft_ms_p50", percentile(lat.ttft_ms, 0.5)},
                                   {"ttft_ms_p99", percentile(lat.ttft_ms, 0.99)},
                                   {"itl_ms_p50", percentile(lat.itl_ms, 0.5)},
                                   {"itl_ms_p99", percentile(lat.itl_ms, 0.99)},
                                   {"itl_ms_max", percentile(lat.itl_ms, 1.0)},
                                   {"errors", lat.errors}};
    if (a->json) {
      std::cout << j.dump(2) << "\n";
      return;
    }
    for (const auto& [k, v] : j.items()) std::cout << k << ": " << v << "\n";
  });
}

}  // namespace pio::cli
