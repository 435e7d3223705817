#include "http/gateway.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <mutex>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/text_serializer.h>

#include "actors/client.h"
#include "actors/node.h"
#include "http/api_error.h"
#include "http/chat_page.h"
#include "http/openai_response.h"
#include "http/routes.h"
#include "http/tokenize.h"
#include "model/sampler.h"
#include "serving/chat_request.h"

namespace pio::http {

namespace {

// The worker threads: parsing, submitting, /health and /metrics wait on them, never on the
// transport's threads.
constexpr int kWorkers = 4;
// The transport's threads (they only move bytes).
constexpr int kTransportThreads = 2;

// Counts a request against --max-connections for as long as it is served (a stream: until it ends).
class Slot {
 public:
  Slot(std::atomic<int>& in_flight, int max) : in_flight_(in_flight) {
    if (in_flight_.fetch_add(1) >= max) {
      in_flight_.fetch_sub(1);
      throw ApiError(429, "too many requests at once (--max-connections " + std::to_string(max) + "); retry later");
    }
  }
  ~Slot() { in_flight_.fetch_sub(1); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  std::atomic<int>& in_flight_;
};

// One entry of /v1/models, and the answer of /v1/models/<id> (OpenAI's model object).
nlohmann::json model_object(const std::string& id, int64_t created) {
  return {{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "pio"}};
}

HttpResponse error_response(int status, const std::string& message, const std::string& param = "") {
  HttpResponse r{status, "application/json", error_body(status, message, param), {}};
  if (status == 429 || status == 503) r.headers.emplace_back("Retry-After", status == 429 ? "1" : "5");
  return r;
}

// Runs a handler, answering its ApiError (or any other exception, as 500) in the error shape.
template <class F>
void guarded(Reply& reply, F&& handler) {
  try {
    handler();
  } catch (const ApiError& e) {
    reply.respond(error_response(e.status(), e.what(), e.param()));
  } catch (const std::exception& e) {
    // The library's text is for the operator, not the client.
    std::cerr << "pio-node: http: internal error: " << e.what() << "\n" << std::flush;
    reply.respond(error_response(500, "internal error (the node's log has the details)"));
  }
}

// The node's error for a final event that is not an answer; an image it names is the param, by
// its field in the body (image_fields: ParsedRequest's).
ApiError error_of(const StreamEvent& e, std::span<const std::string> image_fields) {
  if (e.finish_reason == "cancelled") return ApiError(500, "the request was cancelled: " + plain_words(e.error.message));
  const auto image = static_cast<size_t>(e.error.image);
  const std::string param = e.error.image >= 0 && image < image_fields.size() ? image_fields[image] : "";
  return ApiError(status_of(e.error.code), plain_words(e.error.message), param);
}

bool answered(const StreamEvent& e) { return e.finish_reason == "stop" || e.finish_reason == "length"; }

// ApiError 400 naming the field for a token id outside the vocabulary, before anything runs
// (the tokenizer stage refuses them too, for every client, but cannot name the field).
void check_token_ids_for_http(const Tokenizer& tokenizer, const ChatRequest& r) {
  try {
    check_token_ids(tokenizer, r);
  } catch (const TokenIdError& e) {
    throw ApiError(400, e.what(), e.field());
  }
}

// The prompt a completion with echo starts its text with: as given, or its ids' text (checked).
std::string echo_text(const Tokenizer& tokenizer, const ChatRequest& r) {
  return r.prompt_ids.empty() ? r.prompt : tokenizer.decode(r.prompt_ids);
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// 48 random bits in hex: the prefix of this process's response ids.
std::string random_prefix() {
  std::random_device device;
  const uint64_t bits = (uint64_t(device()) << 32 | device()) & 0xffffffffffffULL;
  char out[16];
  std::snprintf(out, sizeof out, "%012llx", static_cast<unsigned long long>(bits));
  return out;
}

// A reply whose answers (whole or streamed) carry extra headers: the CORS ones.
class HeaderedReply : public Reply {
 public:
  HeaderedReply(std::shared_ptr<Reply> inner, Headers extra) : inner_(std::move(inner)), extra_(std::move(extra)) {}
  void respond(HttpResponse response) override {
    response.headers.insert(response.headers.end(), extra_.begin(), extra_.end());
    inner_->respond(std::move(response));
  }
  void open_stream(std::string content_type, Headers headers) override {
    headers.insert(headers.end(), extra_.begin(), extra_.end());
    inner_->open_stream(std::move(content_type), std::move(headers));
  }
  void write(std::string data) override { inner_->write(std::move(data)); }
  void end_stream() override { inner_->end_stream(); }
  void on_done(std::function<void(bool)> done) override { inner_->on_done(std::move(done)); }

 private:
  const std::shared_ptr<Reply> inner_;
  const Headers extra_;
};

}  // namespace

// One request's answer, fed by its choices' sink actors' events (on actor threads, each
// choice's in order): the first event decides the status (a request the node refuses gets its
// own), then the answer is sent whole once every choice ended, or streamed as server-sent events
// (each choice's chunks with its index, [DONE] after the last). A choice that fails ends the
// answer with its error; on_event then returns the other choices' ids to cancel.
struct HttpGateway::Call {
  struct Choice {
    ChoiceOutput out;
    uint64_t id = 0;
    bool submitted = false, ended = false;
  };

  Call(std::shared_ptr<Reply> r, const ResponseInfo& i, bool s, bool include_usage, std::shared_ptr<Slot> sl, int32_t n,
       std::vector<std::string> images)
      : reply(std::move(r)), info(i), stream(s), image_fields(std::move(images)), slot(std::move(sl)),
        choices(static_cast<size_t>(n)) {
    for (size_t k = 0; k < choices.size(); ++k) formats.emplace_back(i, include_usage, k);
  }

  std::vector<uint64_t> on_event(size_t k, const StreamEvent& e) {
    std::lock_guard lock(mutex);
    Choice& c = choices[k];
    if (done || c.ended) return {};
    c.ended = e.final;
    if (e.final && !answered(e)) return failed(error_of(e, image_fields));
    if (!stream) {
      c.out.text += e.text;
      c.out.logprobs.insert(c.out.logprobs.end(), e.logprobs.begin(), e.logprobs.end());
      if (!e.final) return {};
      c.out.final = e;
      if (!all_ended()) return {};
      done = true;
      std::vector<ChoiceOutput> outs;
      for (const Choice& each : choices) outs.push_back(each.out);
      reply->respond({200, "application/json", completion_body(info, outs), {}});
      return {};
    }
    if (!started) {
      reply->open_stream("text/event-stream", {{"Cache-Control", "no-cache"}});
      for (auto& f : formats) reply->write(f.start());
    }
    started = true;
    if (!e.final) {
      reply->write(formats[k].delta(e.text, e.logprobs));
      return {};
    }
    c.out.final = e;
    reply->write(formats[k].finish_choice(e));
    if (!all_ended()) return {};
    done = true;
    Usage usage = choices.front().out.final.usage;  // the prompt counts once
    for (size_t i = 1; i < choices.size(); ++i) usage.completion_tokens += choices[i].out.final.usage.completion_tokens;
    reply->write(formats.front().end(usage));
    reply->end_stream();
    return {};
  }

  // Ends the answer with an error (its status before anything was sent, else an error event);
  // returns the ids of the choices still running. Called with the mutex held.
  std::vector<uint64_t> failed(const ApiError& e) {
    done = true;
    if (!started) {
      reply->respond(error_response(e.status(), e.what(), e.param()));
    } else {
      reply->write(sse_error(e.status(), e.what()));
      reply->end_stream();
    }
    return running();
  }
  std::vector<uint64_t> running() const {
    std::vector<uint64_t> ids;
    for (const Choice& c : choices)
      if (c.submitted && !c.ended) ids.push_back(c.id);
    return ids;
  }
  bool all_ended() const {
    return std::all_of(choices.begin(), choices.end(), [](const Choice& c) { return c.ended; });
  }

  const std::shared_ptr<Reply> reply;
  const ResponseInfo info;
  const bool stream;
  const std::vector<std::string> image_fields;  // ParsedRequest's: the param of an error in image i
  std::mutex mutex;
  std::vector<StreamFormatter> formats;  // one per choice
  std::shared_ptr<Slot> slot;  // released once the answer is written or abandoned
  std::vector<Choice> choices;
  bool started = false, done = false, gone = false;
};

HttpGateway::HttpGateway(Node& node, HttpSettings settings)
    : node_(node),
      settings_(std::move(settings)),
      client_(std::make_unique<Client>(node)),
      workers_(std::make_unique<boost::asio::thread_pool>(kWorkers)),
      cors_(settings_.cors_origins),
      created_(unix_now()),
      id_prefix_(random_prefix()) {
  model_names_.push_back(settings_.model_name);
  for (const std::string& alias : settings_.model_aliases)
    if (std::find(model_names_.begin(), model_names_.end(), alias) == model_names_.end()) model_names_.push_back(alias);
  if (!settings_.tokenizer) throw std::invalid_argument("the HTTP gateway needs the node's tokenizer");
  http_requests_ = &prometheus::BuildCounter()
                        .Name("pio_http_requests_total")
                        .Help("HTTP requests by endpoint and status")
                        .Register(*node_.profiler()->registry());
  ServerSettings server;
  server.host = settings_.host;
  server.port = settings_.port;
  server.backlog = settings_.backlog;
  server.threads = kTransportThreads;
  server.max_body_bytes = settings_.max_body_bytes;
  server.read_timeout = settings_.read_timeout;
  server.max_open_connections = 4 * settings_.max_connections;
  server.descriptor_reserve = settings_.descriptor_reserve;
  ServerHandlers handlers;
  handlers.check = [this](const HttpRequest& head) { return check(head); };
  handlers.handle = [this](HttpRequest request, std::shared_ptr<Reply> reply) { handle(std::move(request), std::move(reply)); };
  handlers.error = [this](int status, const std::string& message, const HttpRequest& head) {
    HttpResponse r = error_response(status, message);
    const Headers cors = cors_.answer_headers(head);  // so that a page can read a 413
    r.headers.insert(r.headers.end(), cors.begin(), cors.end());
    return r;
  };
  handlers.log = [this](const std::string& path, int status) {
    const std::string_view route = route_of(path);  // one label per route, whatever the path's id
    http_requests_->Add({{"endpoint", route.empty() ? "other" : std::string(route)}, {"code", std::to_string(status)}})
        .Increment();
  };
  server_ = std::make_unique<HttpServer>(std::move(server), std::move(handlers));
}

HttpGateway::~HttpGateway() { stop(); }

std::optional<HttpResponse> HttpGateway::check(const HttpRequest& head) const {
  return admit(head, settings_.api_key, cors_);
}

void HttpGateway::handle(HttpRequest request, std::shared_ptr<Reply> reply) {
  if (cors_.enabled()) reply = std::make_shared<HeaderedReply>(std::move(reply), cors_.answer_headers(request));
  const std::string& path = request.path;
  if (path == "/v1/chat/completions" || path == "/v1/completions") {
    boost::asio::post(*workers_, [this, request = std::move(request), reply = std::move(reply)] {
      generate(request, request.path == "/v1/chat/completions", reply);
    });
  } else if (path == "/v1/models") {
    nlohmann::json models = {{"object", "list"}, {"data", nlohmann::json::array()}};
    for (const std::string& name : model_names_) models["data"].push_back(model_object(name, created_));
    reply->respond({200, "application/json", models.dump(), {}});
  } else if (route_of(path) == kModelRoute) {
    guarded(*reply, [&] {
      const std::optional<std::string> model = model_of(path);
      if (!model) throw ApiError(404, "no such model: the path's id has a bad percent escape", "model");
      check_model(*model, model_names_);
      reply->respond({200, "application/json", model_object(*model, created_).dump(), {}});
    });
  } else if (path == "/tokenize" || path == "/detokenize") {
    boost::asio::post(*workers_, [this, request = std::move(request), reply = std::move(reply)] {
      guarded(*reply, [&] {
        const auto body = request.path == "/tokenize"
                              ? tokenize_body(request.body, *settings_.tokenizer, settings_.limits,
                                              settings_.max_model_len, model_names_)
                              : detokenize_body(request.body, *settings_.tokenizer, settings_.limits.max_depth,
                                                model_names_);
        reply->respond({200, "application/json", body, {}});
      });
    });
  } else if (path == "/health") {
    boost::asio::post(*workers_, [this, reply = std::move(reply)] {
      // 503 naming the stages that are down (a plug-in stage held down, or a silent supervisor).
      const NodeHealth health = node_.health(std::chrono::seconds(5));
      nlohmann::json body = {{"status", health.healthy() ? "ok" : "unhealthy"}};
      if (!health.healthy()) body["down"] = health.down;
      reply->respond({health.healthy() ? 200 : 503, "application/json", body.dump(), {}});
    });
  } else if (path == "/metrics") {
    boost::asio::post(*workers_, [this, reply = std::move(reply)] {
      guarded(*reply, [&] {
        client_->stats(std::chrono::seconds(5));  // refreshes the load gauges
        reply->respond({200, "text/plain; version=0.0.4; charset=utf-8",
                        prometheus::TextSerializer().Serialize(node_.profiler()->registry()->Collect()), {}});
      });
    });
  } else {
    reply->respond({200, "text/html; charset=utf-8", chat_page_html(), {}});
  }
}

void HttpGateway::generate(const HttpRequest& request, bool chat, const std::shared_ptr<Reply>& reply) {
  guarded(*reply, [&] {
    auto slot = std::make_shared<Slot>(in_flight_, settings_.max_connections);
    ParsedRequest parsed = chat ? parse_chat_request(request.body, settings_.limits)
                                : parse_completion_request(request.body, settings_.limits);
    check_model(parsed.model, model_names_);
    check_token_ids_for_http(*settings_.tokenizer, parsed.request);
    // The answer names the model as the request did (an alias from --served-model-name too), as vLLM's.
    ResponseInfo info{(chat ? "chatcmpl-" : "cmpl-") + id_prefix_ + "-" + std::to_string(next_id_++), unix_now(),
                      parsed.model.empty() ? settings_.model_name : parsed.model, chat, parsed.tools};
    if (parsed.request.sampling.logprobs)
      info.logprobs = [tokenizer = settings_.tokenizer](int32_t id) { return std::string(tokenizer->token_bytes(id, false)); };
    if (parsed.echo) info.echo = echo_text(*settings_.tokenizer, parsed.request);
    auto call = std::make_shared<Call>(reply, info, parsed.stream, parsed.include_usage, std::move(slot), parsed.n,
                                       std::move(parsed.image_fields));
    // A client that leaves before its answer is written (queued, prefill, mid-stream) cancels it.
    reply->on_done([this, call](bool completed) {
      std::vector<uint64_t> cancel;
      {
        std::lock_guard lock(call->mutex);
        call->slot.reset();
        call->gone = !completed;
        if (!completed) cancel = call->running();
      }
      for (uint64_t id : cancel) client_->cancel(id);
    });
    parsed.request.deadline_ms = settings_.deadline_ms;
    // n choices: n requests of their own, choice i seeded seed + i (the prompt's blocks are
    // shared through the prefix cache once the first has computed them). Without a seed the node
    // draws one for all, so the answer's seed replays every choice, not only the first.
    if (call->choices.size() > 1 && !parsed.request.sampling.seed) parsed.request.sampling.seed = fresh_seed();
    for (size_t k = 0; k < call->choices.size(); ++k) {
      ChatRequest choice = k + 1 < call->choices.size() ? parsed.request : std::move(parsed.request);
      if (choice.sampling.seed) *choice.sampling.seed += k;
      uint64_t id = 0;
      try {
        id = client_->submit(std::move(choice), [this, call, k](const StreamEvent& e) {
          for (uint64_t other : call->on_event(k, e)) client_->cancel(other);
        });
      } catch (const std::exception& e) {
        if (k == 0) throw;  // nothing sent yet: guarded answers it
        std::vector<uint64_t> cancel;
        {
          std::lock_guard lock(call->mutex);
          if (!call->done) cancel = call->failed(ApiError(500, std::string("internal error: ") + e.what()));
        }
        for (uint64_t other : cancel) client_->cancel(other);
        return;
      }
      bool stop = false;
      {
        std::lock_guard lock(call->mutex);
        Call::Choice& c = call->choices[k];
        c.id = id;
        c.submitted = true;
        stop = call->gone || call->done;
      }
      if (stop) {
        std::vector<uint64_t> cancel;
        {
          std::lock_guard lock(call->mutex);
          cancel = call->running();
        }
        for (uint64_t other : cancel) client_->cancel(other);
        return;
      }
    }
  });
}

uint16_t HttpGateway::start() { return server_->start(); }

void HttpGateway::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Requests the node has ended are still writing their final events: let them (bounded).
  for (int i = 0; i < 150 && in_flight_ > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  server_->stop();  // open streams end; their requests are cancelled
  workers_->join();
}

}  // namespace pio::http
