// A fixed set of compute threads that split one step's work. The calling thread takes part,
// so a pool of N threads starts N - 1 workers. Workers spin briefly between jobs (a decode
// step issues hundreds of small jobs), then sleep. Kernels cut tasks at bounds that do not
// depend on size() and never reduce across tasks, so their results do not depend on the
// thread count. Pinned (optional), thread i runs on core i: worker i from its start, the
// calling thread (thread 0) from its first run.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace pio::cpu {

class ThreadPool {
 public:
  // threads: 0 means all cores. pin: bind each thread to its own core.
  explicit ThreadPool(int threads, bool pin = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(task, worker) for every task in [0, n_tasks) and returns when all are done.
  // worker is in [0, size()) and identifies per-thread scratch space.
  template <class Fn>
  void run(int64_t n_tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run_erased(n_tasks, const_cast<void*>(static_cast<const void*>(&fn)),
               [](void* f, int64_t task, int worker) { (*static_cast<F*>(f))(task, worker); });
  }

 private:
  using Trampoline = void (*)(void*, int64_t, int);
  void run_erased(int64_t n_tasks, void* fn, Trampoline call);
  void work(int worker);
  void worker_loop(int worker);

  bool pin_caller_;  // the calling thread still has to pin itself
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_task_{0};
  std::atomic<int> pending_workers_{0};
  std::atomic<bool> stopping_{false};
  int64_t n_tasks_ = 0;
  void* fn_ = nullptr;
  Trampoline call_ = nullptr;
};

}  // namespace pio::cpu
