#include "gpu/cpu/thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <utility>

#include <immintrin.h>

namespace pio::cpu {

namespace {
constexpr int kSpinIterations = 20000;  // roughly 50 µs of pause before a worker sleeps

// Binds the calling thread to one core (modulo the cores there are); a refusal (a container's
// CPU set, say) leaves it unpinned: pinning is a speed hint, not a requirement.
void pin_to_core(int core) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core % cores, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

}  // namespace

ThreadPool::ThreadPool(int threads, bool pin) : pin_caller_(pin) {
  const int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < n; ++i)
    workers_.emplace_back([this, i, pin] {
      if (pin) pin_to_core(i);
      worker_loop(i);
    });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_erased(int64_t n_tasks, void* fn, Trampoline call) {
  if (n_tasks <= 0) return;
  if (std::exchange(pin_caller_, false)) pin_to_core(0);
  if (workers_.empty() || n_tasks == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) call(fn, t, 0);
    return;
  }
  fn_ = fn;
  call_ = call;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  pending_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  work(0);
  for (int spins = 0; pending_workers_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < kSpinIterations) _mm_pause();
    else std::this_thread::yield();
  }
}

void ThreadPool::work(int worker) {
  for (;;) {
    const int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) return;
    call_(fn_, task, worker);
  }
}

void ThreadPool::worker_loop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations && generation_.load(std::memory_order_acquire) == seen; ++i) _mm_pause();
    generation_.wait(seen, std::memory_order_acquire);
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load(std::memory_order_acquire)) return;
    work(worker);
    pending_workers_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace pio::cpu
