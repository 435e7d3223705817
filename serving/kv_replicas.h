// KV replicas: where each placed job's KV blocks are copied, so that when its worker is lost the
// job resumes on a worker that already holds them and prefills only the tokens after its last
// full block, not the whole prompt and output again (a move otherwise re-prefills everything, as
// NVIDIA Dynamo's request migration does). Each placement gets one replica worker other than the
// one computing it (its primary): the least loaded of those that take jobs. The primary is then
// told to copy every full block of the job, from the first, to the front end, which passes them
// to the replica's tiered cache (the prefix cache's "kv/" keys; serving/prefix_keys.h). A job
// placed while no other worker takes jobs gets its replica when one joins; one whose replica
// leaves or drains gets another, and its primary starts over from the first block.
// Plain class, not thread-safe; EngineRouter owns one.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "messages/pipeline.h"

namespace pio {

// What crosses the network at once is bounded: `blocks` cut into messages of at most max_bytes of
// block bytes each (a single larger block goes alone), in order. Throws std::invalid_argument
// when max_bytes is not positive or keys and blocks differ in number.
std::vector<KvBlocks> split_kv_blocks(KvBlocks blocks, int64_t max_bytes);

class KvReplicaPlan {
 public:
  // Tell worker `primary` to copy every full KV block of `job`, from the first, to its replica;
  // with copy false, to stop copying (its replica is gone and no other worker can take it).
  struct Order {
    uint32_t primary = 0;
    uint64_t job = 0;
    bool copy = true;
    bool operator==(const Order&) const = default;
  };

  // by_load below: the workers that can keep copies (joined, not draining, with a tiered cache),
  // least loaded first.

  // A job was placed on `primary`: its replica is the first of by_load that is not the primary.
  // Returns the order, or nothing when no other worker takes jobs (it waits for one).
  std::optional<Order> placed(uint64_t job, uint32_t primary, const std::vector<uint32_t>& by_load);
  // A worker joined (it is in by_load): the jobs that had no replica get one.
  std::vector<Order> joined(const std::vector<uint32_t>& by_load);
  // The worker drains (it leaves soon, and its cache with it) or left: the jobs it was the replica
  // of get another, or, when none is left, an order to stop copying. A worker that left is also
  // the primary of nothing now: each of its jobs remembers its replica for takeover() (the job
  // is placed again under a new id).
  std::vector<Order> draining(uint32_t worker, const std::vector<uint32_t>& by_load);
  std::vector<Order> left(uint32_t worker, const std::vector<uint32_t>& by_load);
  // The replica of a job whose primary left, to place it on (forgotten now); nothing when it had none.
  std::optional<uint32_t> takeover(uint64_t job);

  std::optional<uint32_t> replica_of(uint64_t job) const;
  // The job ended (or was placed again, or given up): forgotten.
  void ended(uint64_t job) { jobs_.erase(job); }
  size_t size() const { return jobs_.size(); }

 private:
  struct Job {
    uint32_t primary = 0;
    std::optional<uint32_t> replica;
    bool orphaned = false;  // its primary left: only its replica is kept, for takeover()
  };
  // Gives `job` the first worker of by_load that is not its primary; the order, if one was found.
  std::optional<Order> assign(uint64_t job, Job& j, const std::vector<uint32_t>& by_load);
  // assign() for a job whose replica is lost: its order, or the order to stop copying.
  Order reassign(uint64_t job, Job& j, const std::vector<uint32_t>& by_load);

  std::unordered_map<uint64_t, Job> jobs_;
};

}  // namespace pio
