// Every message that crosses a process boundary survives CAF's binary serializer: serialised,
// read back into a fresh value and serialised again, the bytes are equal, and the fields a
// front end and its workers rely on read back unchanged. EngineJob with images (pixels, files,
// cached features, limits), resume ids, logit_bias and logprobs options, StreamEvent with a seed and logprobs, the join, load and stats
// messages and a replica's KV blocks included.
#define BOOST_TEST_MODULE messages
#include <boost/test/unit_test.hpp>

#include <caf/actor_system.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actors/actor_types.h"
#include "actors/interfaces.h"
#include "actors/node.h"

using namespace pio;

namespace {

struct Fixture {
  ActorSystem actors;
  caf::actor_system& sys = *actors;

  template <class T>
  std::vector<char> bytes(T& x) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    BOOST_REQUIRE(!sink(x));
    return buf;
  }

  // x serialised, read back, serialised again: the same bytes. Returns the value read back.
  template <class T>
  T round_trip(T x) {
    const std::vector<char> first = bytes(x);
    T back;
    caf::binary_deserializer source{sys, first};
    BOOST_REQUIRE(!source(back));
    BOOST_TEST(source.remaining() == 0u);
    BOOST_TEST(bytes(back) == first);
    return back;
  }
};

PixelValues pixels(float base) {
  PixelValues p;
  p.grid_t = 1;
  p.grid_h = 2;
  p.grid_w = 2;
  p.data.resize(static_cast<size_t>(p.rows() * p.row_width()));
  for (size_t i = 0; i < p.data.size(); ++i) p.data[i] = base + static_cast<float>(i) / 7.0f;
  return p;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(messages, Fixture)

BOOST_AUTO_TEST_CASE(an_engine_job_with_images_and_resume_ids) {
  EngineJob job;
  job.id = (uint64_t{1} << 40) + 3;
  job.client_id = "client";
  job.priority = -2;
  job.ids = {1, 151655, 2, 3};
  job.images = {pixels(0.5f), PixelValues{}};
  job.images[1].grid_t = 1;
  job.images[1].grid_h = 4;
  job.images[1].grid_w = 6;  // a grid without pixels: a job for another process
  job.image_keys = {"img/aa", "img/bb"};
  job.image_features = {"", "cached"};
  job.image_files = {{0xff, 0xd8, 0x00, 0x01}, {}};
  job.image_limits = {1024, 409600, int64_t{1} << 26};
  job.sampling = {0.7f, 20, 0.9f, 42};
  job.sampling.logit_bias = {{5, -100.0f}, {151000, 2.5f}};
  job.sampling.logprobs = true;
  job.sampling.top_logprobs = 20;
  job.max_tokens = 99;
  job.stop_ids = {7};
  job.stop = {"\n\n"};
  job.stream = false;
  job.show_special_tokens = true;
  job.timings.tokenize_ms = 1.5;
  job.resume_ids = {11, 12, 13};
  job.structured = {R"({"type":"object"})", "<tool_call>\n", "\n</tool_call>"};
  const EngineJob back = round_trip(job);
  BOOST_TEST(back.id == job.id);
  BOOST_TEST(back.images.size() == 2u);
  BOOST_TEST(back.images[0].data == job.images[0].data);
  BOOST_TEST(back.images[1].rows() == 24);
  BOOST_TEST(back.images[1].data.empty());
  BOOST_TEST(back.image_files == job.image_files);
  BOOST_TEST(back.image_limits.max_pixels == 409600);
  BOOST_TEST(*back.sampling.seed == 42u);
  BOOST_TEST(back.sampling.logit_bias.at(1).id == 151000);
  BOOST_TEST(back.sampling.logit_bias.at(1).bias == 2.5f);
  BOOST_TEST(back.sampling.logprobs);
  BOOST_TEST(back.sampling.top_logprobs == 20);
  BOOST_TEST(back.resume_ids == job.resume_ids);
  BOOST_TEST(back.structured.schema == job.structured.schema);
  BOOST_TEST(back.structured.prefix == job.structured.prefix);
  BOOST_TEST(back.structured.suffix == job.structured.suffix);
  BOOST_TEST(back.stop == job.stop);
  BOOST_TEST(!back.stream);
}

BOOST_AUTO_TEST_CASE(stream_events_requests_and_prepared_images) {
  StreamEvent e;
  e.request_id = 9;
  e.text = "héllo";
  e.token_ids = {1, 2};
  e.final = true;
  e.finish_reason = "length";
  e.usage = {10, 2, 4};
  e.error = {ErrorCode::overloaded, "no worker"};
  e.seed = 123;
  e.logprobs = {{{1, -0.25f}, {{1, -0.25f}, {7, -2.5f}}}, {{2, -1.0f}, {}}};
  const StreamEvent back = round_trip(e);
  BOOST_TEST(back.logprobs.size() == 2u);
  BOOST_TEST(back.logprobs[0].top.at(1).id == 7);
  BOOST_TEST(back.logprobs[0].top.at(1).logprob == -2.5f);
  BOOST_TEST(back.logprobs[1].chosen.logprob == -1.0f);
  BOOST_TEST(back.text == e.text);
  BOOST_TEST(back.token_ids == e.token_ids);
  BOOST_TEST((back.error.code == ErrorCode::overloaded));
  BOOST_TEST(*back.seed == 123u);
  StreamEvent no_seed;
  BOOST_TEST(!round_trip(no_seed).seed);

  ChatRequest r;
  r.client_id = "c";
  r.messages.push_back({"user", {{"look", {}, false}, {"", {1, 2, 3}, true}}});
  r.max_tokens = 5;
  r.structured.schema = R"({"type":"array"})";
  const ChatRequest rb = round_trip(r);
  BOOST_TEST(rb.messages.at(0).parts.at(1).image == (std::vector<uint8_t>{1, 2, 3}));
  BOOST_TEST(rb.structured.schema == r.structured.schema);

  PreparedImage image;
  image.cache_key = "img/cc";
  image.pixels = pixels(1.0f);
  image.tokens = 1;
  image.file = {9, 8};
  image.limits = {1, 2, 3};
  const PreparedImage ib = round_trip(image);
  BOOST_TEST(ib.pixels.data == image.pixels.data);
  BOOST_TEST(ib.file == image.file);
  BOOST_TEST(ib.limits.max_decoded_pixels == 3);
  BOOST_TEST(round_trip(PromptTokens{{4, 5}, 1}).ids == (std::vector<int32_t>{4, 5}));
}

BOOST_AUTO_TEST_CASE(join_load_and_stats_messages) {
  WorkerHello hello;
  hello.fingerprint = "abc";
  hello.name = "host:1";
  const WorkerHello hb = round_trip(hello);
  BOOST_TEST(hb.protocol == kClusterProtocolVersion);
  BOOST_TEST(hb.fingerprint == "abc");

  WorkerReport report;
  report.load = {3, 4, 5, 6, 7, 8, 9, 12.5};
  report.cache.push_back({"hot", 1, 2, 3, 4, 5, 6, 7, 8});
  const WorkerReport rb = round_trip(report);
  BOOST_TEST(rb.load.step_ms == 12.5);
  BOOST_TEST(rb.cache.at(0).tier == "hot");

  StatsReport stats;
  stats.requests["stop"] = 3;
  stats.latencies.push_back({"ttft", 1, 2, 3, 4, 5});
  WorkerStats w;
  w.id = 2;
  w.name = "host:2";
  w.draining = true;
  w.in_flight = 1;
  w.placed = 8;
  w.report = report;
  stats.workers.push_back(w);
  const StatsReport sb = round_trip(stats);
  BOOST_TEST(sb.workers.at(0).name == "host:2");
  BOOST_TEST(sb.workers.at(0).draining);
  BOOST_TEST(sb.workers.at(0).report.load.kv_blocks_total == 6);

  StepStats step{1, 2, 3, 4, 5, 6.5, 7};
  BOOST_TEST(round_trip(step).ms == 6.5);
  NodeHealth health{{"workers (none joined)"}};
  BOOST_TEST(round_trip(health).down.at(0) == "workers (none joined)");
}

BOOST_AUTO_TEST_CASE(kv_blocks_for_a_replica) {
  KvBlocks blocks;
  blocks.job = uint64_t{1} << 41;
  blocks.keys = {"kv/a", "kv/b"};
  blocks.blocks = {std::string("\0\1\2", 3), std::string(70000, '\x7f')};  // bytes with NULs, and a large one
  const KvBlocks back = round_trip(blocks);
  BOOST_TEST(back.job == blocks.job);
  BOOST_TEST(back.keys == blocks.keys);
  BOOST_TEST(back.blocks == blocks.blocks);
}

BOOST_AUTO_TEST_SUITE_END()
