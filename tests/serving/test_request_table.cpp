// The front end's request table: the job assembled from the tokenizer's and the preprocessor's
// halves, the context refusal, placements (a moved request resumes from the ids it streamed and
// its old placement's events are stale), deadlines and final timings.
#include <boost/test/unit_test.hpp>

#include "serving/request_table.h"

using namespace pio;

namespace {

ChatRequest request_with_images(int images, int32_t max_tokens) {
  ChatRequest r;
  ChatTurn turn;
  turn.role = "user";
  for (int i = 0; i < images; ++i) {
    ContentPart image;
    image.is_image = true;
    turn.parts.push_back(image);
  }
  ContentPart text;
  text.text = "hi";
  turn.parts.push_back(text);
  r.messages.push_back(turn);
  r.max_tokens = max_tokens;
  r.stop_ids = {7};
  r.sampling.seed = 42;
  return r;
}

PreparedImage image(const std::string& key, int64_t tokens) {
  PreparedImage p;
  p.cache_key = key;
  p.tokens = tokens;
  p.pixels.data = std::vector<float>(6, 0.5f);
  return p;
}

StreamEvent tokens(uint64_t placement, std::vector<int32_t> ids) {
  StreamEvent e;
  e.request_id = placement;
  e.token_ids = std::move(ids);
  return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(request_table)

BOOST_AUTO_TEST_CASE(the_job_is_assembled_when_both_halves_are_in_whatever_their_order) {
  RequestTable table(0);
  const uint64_t id = table.add(request_with_images(2, 5), 10.0);
  BOOST_TEST(table.start(id, 10.5) == 2u);
  BOOST_TEST(!table.image_done(id, 1, image("b", 4), 10.6));
  BOOST_TEST(!table.tokens_done(id, {{1, 2, 3}, 2}, 10.7));
  BOOST_TEST(table.image_done(id, 0, image("a", 9), 10.8));
  BOOST_TEST(!table.assemble(id));
  const EngineJob job = *table.find(id)->job;
  BOOST_TEST(job.ids == (std::vector<int32_t>{1, 2, 3}));
  BOOST_TEST(job.image_keys == (std::vector<std::string>{"a", "b"}));  // prompt order, not arrival order
  BOOST_TEST(job.images.size() == 2u);
  BOOST_TEST(job.stop_ids == (std::vector<int32_t>{7}));  // the model's are the engine group's to add
  BOOST_TEST(job.max_tokens == 5);
  BOOST_TEST(job.timings.queue_ms == 500.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(job.timings.tokenize_ms == 200.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(job.timings.preprocess_ms == 300.0, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(a_prompt_over_the_context_is_refused_and_a_default_is_clipped) {
  RequestTable table(20);
  const uint64_t id = table.add(request_with_images(1, 10), 0);
  table.start(id, 0);
  table.tokens_done(id, {{1, 2, 3, 4, 5}, 1}, 0);
  table.image_done(id, 0, image("a", 9), 0);  // 5 - 1 + 9 = 13 prompt tokens, + 10 > 20
  BOOST_TEST(table.assemble(id).value_or("").find("context") != std::string::npos);
  ChatRequest clipped = request_with_images(1, 10);
  clipped.clip_max_tokens = true;
  const uint64_t id2 = table.add(clipped, 0);
  table.start(id2, 0);
  table.tokens_done(id2, {{1, 2, 3, 4, 5}, 1}, 0);
  table.image_done(id2, 0, image("a", 9), 0);
  BOOST_TEST(!table.assemble(id2));
  BOOST_TEST(table.find(id2)->job->max_tokens == 7);
}

BOOST_AUTO_TEST_CASE(a_moved_request_resumes_from_what_it_streamed_and_its_old_placement_is_stale) {
  RequestTable table(0);
  const uint64_t id = table.add(request_with_images(0, 10), 1.0);
  BOOST_TEST(!table.place(id));  // no job yet
  table.start(id, 1.0);
  table.tokens_done(id, {{1, 2}, 0}, 1.0);
  BOOST_TEST(!table.assemble(id));
  const EngineJob first = *table.place(id);
  BOOST_TEST(first.id != id);  // a placement id of its own
  BOOST_TEST(first.resume_ids.empty());
  double itl = 0;
  StreamEvent e = tokens(first.id, {11, 12});
  BOOST_TEST(*table.engine_event(e, 1.5, itl) == id);
  BOOST_TEST(e.request_id == id);  // renumbered for the client
  BOOST_TEST(itl == -1.0);
  BOOST_TEST(table.find(id)->timings.ttft_ms == 500.0, boost::test_tools::tolerance(1e-6));
  e = tokens(first.id, {13});
  table.engine_event(e, 1.75, itl);
  BOOST_TEST(itl == 250.0, boost::test_tools::tolerance(1e-6));

  const EngineJob second = *table.place(id);  // its worker was lost
  BOOST_TEST(second.resume_ids == (std::vector<int32_t>{11, 12, 13}));
  BOOST_TEST(second.id != first.id);
  BOOST_TEST(table.find(id)->placements == 2);
  StreamEvent stale = tokens(first.id, {99});
  BOOST_TEST(!table.engine_event(stale, 2.0, itl));  // the old worker came back: ignored
  BOOST_TEST(table.find(id)->streamed.size() == 3u);
  StreamEvent fresh = tokens(second.id, {14});
  BOOST_TEST(*table.engine_event(fresh, 2.0, itl) == id);

  StreamEvent final_event;
  final_event.final = true;
  table.finish(id, final_event, 3.0);
  BOOST_TEST(final_event.request_id == id);
  BOOST_TEST(final_event.timings.total_ms == 2000.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(*final_event.seed == 42u);
  table.erase(id);
  BOOST_TEST(!table.request_of_placement(second.id));
  BOOST_TEST(table.size() == 0u);
}

BOOST_AUTO_TEST_CASE(the_first_placement_takes_the_pixels_and_a_move_sends_the_files) {
  RequestTable table(0);
  const uint64_t id = table.add(request_with_images(1, 5), 0);
  table.start(id, 0);
  table.tokens_done(id, {{1, 2}, 1}, 0);
  PreparedImage with_file = image("a", 1);
  with_file.pixels.grid_t = 1;
  with_file.pixels.grid_h = 2;
  with_file.pixels.grid_w = 3;
  with_file.file = {0xff, 0xd8, 0xff};
  with_file.limits = {10, 20, 30};
  table.image_done(id, 0, with_file, 0);
  BOOST_TEST(!table.assemble(id));
  const EngineJob first = *table.place(id);
  BOOST_TEST(first.images.at(0).data.size() == 6u);
  BOOST_TEST(table.find(id)->job->images.at(0).data.empty());  // the table keeps no pixels
  const EngineJob moved = *table.place(id);
  BOOST_TEST(moved.images.at(0).data.empty());
  BOOST_TEST(moved.images.at(0).rows() == 6);  // the grid stays: prefix keys and routing need it
  BOOST_TEST(moved.image_files.at(0) == with_file.file);
  BOOST_TEST(moved.image_limits.max_pixels == 20);
}

BOOST_AUTO_TEST_CASE(late_lists_the_requests_past_their_deadline) {
  RequestTable table(0);
  ChatRequest soon = request_with_images(0, 5);
  soon.deadline_ms = 100;
  const uint64_t a = table.add(soon, 1.0);
  table.add(request_with_images(0, 5), 1.0);  // no deadline
  BOOST_TEST(table.late(1.05).empty());
  BOOST_TEST(table.late(1.1) == (std::vector<uint64_t>{a}));
}

BOOST_AUTO_TEST_SUITE_END()
