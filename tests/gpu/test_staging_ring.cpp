// The CUDA backend's staging ring (gpu/cuda/staging_ring.h) over a port whose "device" runs its
// queue of copies only when a fence is waited for, as a busy device would: an upload leaves src
// free at once and its bytes arrive; no slot is written while a copy from it is still queued; a
// download returns every byte; each copy's time is counted once.
#define BOOST_TEST_MODULE staging_ring
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <deque>
#include <numeric>
#include <vector>

#include "gpu/cuda/staging_ring.h"

using namespace pio::cuda;

namespace {

constexpr double kCopySeconds = 1e-3;  // what the fake device says each copy took

class LazyPort final : public StagingPort {
 public:
  void* allocate_pinned(size_t bytes) override {
    pinned_.assign(bytes, 0);
    ++allocations;
    return pinned_.data();
  }
  void free_pinned(void*) noexcept override { ++frees; }
  void queue_upload(void* dst, const void* pinned, size_t bytes, int slot) override {
    const auto* p = static_cast<const uint8_t*>(pinned);
    queue_.push_back({dst, pinned, bytes, slot, std::vector<uint8_t>(p, p + bytes)});
  }
  void queue_download(void* pinned, const void* src, size_t bytes, int slot) override {
    queue_.push_back({pinned, src, bytes, slot, {}});
  }
  // Runs the queue in order through the slot's last copy (everything queued before it too); a
  // copy's time is reported when its slot is waited for, once.
  double wait(int slot) override {
    size_t last = queue_.size();
    for (size_t i = 0; i < queue_.size(); ++i)
      if (queue_[i].slot == slot) last = i;
    if (last < queue_.size()) run(last + 1);
    const double seconds = done_seconds_[slot];
    done_seconds_[slot] = 0;
    return seconds;
  }
  // The device runs its first n queued copies on its own (no wait).
  void run(size_t n) {
    for (size_t i = 0; i < n && !queue_.empty(); ++i) {
      const Copy c = std::move(queue_.front());
      queue_.pop_front();
      // An upload must still find in its slot the bytes it was queued with.
      if (!c.queued_bytes.empty() && std::memcmp(c.src, c.queued_bytes.data(), c.bytes) != 0) ++overwritten;
      std::memcpy(c.dst, c.src, c.bytes);
      done_seconds_[c.slot] += kCopySeconds;
    }
  }
  int copies_queued() const { return static_cast<int>(queue_.size()); }

  int allocations = 0, frees = 0, overwritten = 0;

 private:
  struct Copy {
    void* dst;
    const void* src;
    size_t bytes;
    int slot;
    std::vector<uint8_t> queued_bytes;  // an upload's slot bytes when it was queued
  };
  std::vector<uint8_t> pinned_;
  std::deque<Copy> queue_;
  double done_seconds_[64] = {};  // per slot: copies done and not yet reported
};

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

const size_t kSizes[] = {0, 1, 63, 64, 65, 191, 192, 640, 1001};

}  // namespace

BOOST_AUTO_TEST_CASE(an_upload_leaves_src_free_at_once_and_its_bytes_arrive) {
  for (const size_t n : kSizes) {
    LazyPort port;
    std::vector<uint8_t> device(n, 0xee);
    {
      StagingRing ring(port, 3, 64);
      std::vector<uint8_t> src = pattern(n, 1);
      const std::vector<uint8_t> want = src;
      ring.upload(device.data(), src.data(), n);
      std::fill(src.begin(), src.end(), 0);  // the caller reuses its memory at once
      ring.settle();
      BOOST_TEST(device == want, n << " bytes");
      BOOST_TEST(port.overwritten == 0, n << " bytes");
      BOOST_TEST(port.copies_queued() == 0);
    }
    BOOST_TEST(port.allocations == (n > 0 ? 1 : 0));
    BOOST_TEST(port.frees == port.allocations);
  }
}

BOOST_AUTO_TEST_CASE(uploads_leave_copies_queued_until_a_slot_comes_round_again) {
  LazyPort port;
  StagingRing ring(port, 4, 64);
  std::vector<uint8_t> device(64 * 3);
  const std::vector<uint8_t> src = pattern(64 * 3, 9);
  ring.upload(device.data(), src.data(), src.size());
  BOOST_TEST(port.copies_queued() == 3);  // nothing waited for: three chunks under way
  ring.upload(device.data(), src.data(), 64 * 2);  // slots 3, then 0: waits for the first copy only
  BOOST_TEST(port.copies_queued() == 4);
  BOOST_TEST(port.overwritten == 0);
  ring.settle();
  BOOST_TEST(device == src);
}

BOOST_AUTO_TEST_CASE(a_download_returns_every_byte_also_after_queued_uploads) {
  for (const size_t n : kSizes) {
    LazyPort port;
    StagingRing ring(port, 3, 64);
    std::vector<uint8_t> device = pattern(n, 5), host(n, 0);
    ring.download(host.data(), device.data(), n);
    BOOST_TEST(host == device, n << " bytes");
    // In stream order after an upload to the same memory: the download sees the new bytes.
    const std::vector<uint8_t> fresh = pattern(n, 77);
    ring.upload(device.data(), fresh.data(), n);
    ring.download(host.data(), device.data(), n);
    BOOST_TEST(host == fresh, n << " bytes, after an upload");
    BOOST_TEST(port.overwritten == 0);
  }
}

BOOST_AUTO_TEST_CASE(each_copys_time_is_counted_once) {
  LazyPort port;
  StagingRing ring(port, 3, 64);
  std::vector<uint8_t> device(1000), host(1000);
  const std::vector<uint8_t> src = pattern(1000, 3);
  ring.upload(device.data(), src.data(), 1000);    // 16 chunks
  ring.download(host.data(), device.data(), 1000);  // 16 more
  ring.settle();
  ring.settle();
  BOOST_TEST(ring.transfer_seconds() == 32 * kCopySeconds, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(copies_finished_out_of_turn_count_once_settled) {
  LazyPort port;
  StagingRing ring(port, 4, 64);
  std::vector<uint8_t> device(64 * 3);
  const std::vector<uint8_t> src = pattern(64 * 3, 11);
  ring.upload(device.data(), src.data(), src.size());  // 3 copies queued, none waited for
  port.run(3);                                          // the device finishes them on its own
  BOOST_TEST(ring.transfer_seconds() == 0.0);           // not yet known to the ring
  ring.settle();
  BOOST_TEST(ring.transfer_seconds() == 3 * kCopySeconds, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(device == src);
}

BOOST_AUTO_TEST_CASE(slots_and_slot_bytes_must_be_positive) {
  LazyPort port;
  BOOST_CHECK_THROW(StagingRing(port, 0, 64), std::invalid_argument);
  BOOST_CHECK_THROW(StagingRing(port, 2, 0), std::invalid_argument);
}
