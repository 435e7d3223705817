// What a worker (an engine group, in this process or another) says when it joins a front end;
// what it reports while it serves is in stats.h (WorkerReport).
#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace pio {

// The version of the messages a front end and its workers exchange; a worker of another version
// is refused. Raise it whenever a message crossing the process boundary changes.
constexpr uint32_t kClusterProtocolVersion = 4;  // 2: logprobs, top_logprobs, logit_bias, EngineJob::structured; 3: KV replicas; 4: ErrorInfo::image

// A worker's introduction: refused unless protocol and model fingerprint equal the front end's.
struct WorkerHello {
  uint32_t protocol = kClusterProtocolVersion;
  std::string fingerprint;  // storage/fingerprint.h over the checkpoint
  std::string name;         // host:pid, for stats and logs
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, WorkerHello& x) {
  return f(caf::meta::type_name("pio::WorkerHello"), x.protocol, x.fingerprint, x.name);
}

}  // namespace pio
