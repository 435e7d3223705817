// The CUDA attention and KV-store launchers (gpu/cuda/attention.h, kv.h) on a device, bit for bit
// against their CPU emulation (tests/gpu/cuda_attention_emulation.h: the kernels' own bodies run
// over every CTA and thread, every product and sum rounded as on the device, attention_math.h),
// and so against the CPU backend where that one is bit-exact: every byte store_kv writes, and
// paged attention over contexts of at most 256 slots (test_cuda_attention_math). Without a usable
// device every case is skipped and the run prints one line saying why.
#define BOOST_TEST_MODULE cuda_attention_device
#include <cuda_runtime_api.h>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpu/cpu/kv_rows.h"
#include "gpu/cuda/attention.h"
#include "gpu/cuda/kv.h"
#include "tests/gpu/cuda_attention_emulation.h"
#include "tests/gpu/paged_kv_fixture.h"

using namespace pio;
using pio::cuda::testing::emulate_paged_attention;
using pio::cuda::testing::emulate_segment_attention;
using namespace pio::testing;

namespace attention_device_test {

// Why no case can run here ("" when a device is usable), said once.
const std::string& why_no_device() {
  static const std::string why = [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    std::string reason = e != cudaSuccess ? std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e)
                         : n == 0         ? std::string("no CUDA device")
                                          : std::string();
    if (!reason.empty()) std::cout << "test_cuda_attention_device: every case skipped: " << reason << "\n";
    return reason;
  }();
  return why;
}

boost::test_tools::assertion_result has_device(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(why_no_device().empty());
  r.message() << why_no_device();
  return r;
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

// A device copy of a host vector, freed with it.
template <class T>
struct DeviceCopy {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceCopy(const std::vector<T>& host) : n(host.size()) {
    check(cudaMalloc(reinterpret_cast<void**>(&p), sizeof(T) * (n > 0 ? n : 1)), "cudaMalloc");
    check(cudaMemcpy(p, host.data(), sizeof(T) * n, cudaMemcpyHostToDevice), "upload");
  }
  ~DeviceCopy() { cudaFree(p); }
  DeviceCopy(const DeviceCopy&) = delete;
  DeviceCopy& operator=(const DeviceCopy&) = delete;
  std::vector<T> download() const {
    check(cudaDeviceSynchronize(), "kernel");
    std::vector<T> host(n);
    check(cudaMemcpy(host.data(), p, sizeof(T) * n, cudaMemcpyDeviceToHost), "download");
    return host;
  }
};

}  // namespace attention_device_test

using namespace attention_device_test;

// store_kv through a scrambled block table from slot 5: the CPU backend's bytes, every dtype.
BOOST_AUTO_TEST_CASE(store_kv_writes_the_cpu_backends_bytes, *boost::unit_test::precondition(has_device)) {
  for (KvDType dtype : kKvDtypes)
    for (int head_dim : {128, 64}) {
      const int kv_heads = 3, block_size = 5, blocks = 8;
      const int64_t first = 5, n = 23;
      const auto k = random_floats(static_cast<size_t>(n * kv_heads * head_dim), 1);
      const auto v = random_floats(k.size(), 2);
      const std::vector<int32_t> table{6, 1, 4, 0, 7, 2, 5, 3};
      const auto bytes = static_cast<size_t>(blocks * block_size * kv_heads * kv_row_bytes(dtype, head_dim));
      std::vector<unsigned char> cpu_k(bytes);
      std::vector<unsigned char> cpu_v(cpu_k.size());
      cpu::store_kv({cpu_k.data(), cpu_v.data(), dtype, block_size, kv_heads, head_dim}, table.data(), first, n,
                    k.data(), v.data());
      DeviceCopy<unsigned char> dev_k(std::vector<unsigned char>(cpu_k.size())), dev_v(dev_k.download());
      DeviceCopy<int32_t> dev_table(table);
      DeviceCopy<float> dk(k), dv(v);
      const cuda::DeviceKvLayer layer{dev_k.p, dev_v.p, dtype, block_size, kv_heads, head_dim};
      cuda::store_kv(layer, dev_table.p, first, n, dk.p, dv.p, nullptr);
      BOOST_TEST((dev_k.download() == cpu_k), kv_dtype_name(dtype) << " K, head_dim " << head_dim);
      BOOST_TEST((dev_v.download() == cpu_v), kv_dtype_name(dtype) << " V, head_dim " << head_dim);
    }
}

// Paged attention, three sequences (75 fresh rows; one row at 600 cached slots; 9 rows across the
// 256-slot split), prefill kernel, then a decode step of each sequence's last row through the
// flash-decode kernel beside the others: the emulation's bits, and the decode rows the prefill's.
BOOST_AUTO_TEST_CASE(paged_attention_gives_the_emulations_bits, *boost::unit_test::precondition(has_device)) {
  struct Shape {
    int n_heads, kv_heads, head_dim, block_size;
  };
  for (const Shape shape : {Shape{16, 8, 128, 16}, Shape{24, 2, 64, 5}})
    for (KvDType dtype : kKvDtypes) {
      const auto [n_heads, kv_heads, head_dim, block_size] = shape;
      const int64_t cached[3] = {0, 600, 250}, fresh[3] = {75, 1, 9};
      const int per_seq = 601 / block_size + 1, blocks = 3 * per_seq;
      const int64_t q_width = int64_t{n_heads} * head_dim;
      KvPool pool(dtype, blocks, block_size, kv_heads, head_dim);
      const ScrambledSequences in(pool.layer, blocks, cached, fresh, n_heads);
      const auto& q = in.q;
      const auto& seqs = in.seqs;
      const auto& tables = in.tables;
      std::vector<AttentionSequence> decode_seqs;  // each sequence's last row alone
      for (int s = 0; s < 3; ++s)
        decode_seqs.push_back({tables[static_cast<size_t>(s)].data(), s, 1, cached[s] + fresh[s] - 1});
      const float scale = 1.0f / std::sqrt(float(head_dim));
      std::vector<float> want(q.size());
      emulate_paged_attention(q.data(), n_heads, pool.layer, seqs, scale, want.data(), false);

      DeviceCopy<unsigned char> dev_k(pool.k), dev_v(pool.v);
      const cuda::DeviceKvLayer layer{dev_k.p, dev_v.p, dtype, block_size, kv_heads, head_dim};
      DeviceCopy<int32_t> t0(tables[0]), t1(tables[1]), t2(tables[2]);
      const int32_t* dev_tables[3] = {t0.p, t1.p, t2.p};
      const auto device_seqs = [&](const std::vector<AttentionSequence>& from) {
        std::vector<cuda::DeviceSequence> out;
        for (size_t s = 0; s < from.size(); ++s)
          out.push_back({dev_tables[s], from[s].q_begin, from[s].n_queries, from[s].cached_before});
        return out;
      };
      const auto host_prefill = device_seqs(seqs), host_decode = device_seqs(decode_seqs);
      DeviceCopy<cuda::DeviceSequence> dev_prefill(host_prefill), dev_decode(host_decode);
      DeviceCopy<float> dq(q), dout(std::vector<float>(q.size(), -1.0f));
      cuda::paged_attention(dq.p, n_heads, layer, dev_prefill.p, host_prefill.data(), 3, scale, dout.p, nullptr,
                            nullptr);
      const auto got = dout.download();
      BOOST_TEST(std::memcmp(got.data(), want.data(), sizeof(float) * got.size()) == 0,
                 kv_dtype_name(dtype) << ", head_dim " << head_dim << ": prefill");

      // The decode step: q rows are each sequence's last prefill row.
      std::vector<float> decode_q;
      for (int s = 0; s < 3; ++s) {
        const int64_t last = seqs[static_cast<size_t>(s)].q_begin + fresh[s] - 1;
        decode_q.insert(decode_q.end(), q.begin() + last * q_width, q.begin() + (last + 1) * q_width);
      }
      DeviceCopy<float> ddq(decode_q), ddout(std::vector<float>(decode_q.size(), -1.0f));
      DeviceCopy<float> workspace(std::vector<float>(static_cast<size_t>(
          cuda::paged_attention_workspace_floats(n_heads, head_dim, host_decode.data(), 3))));
      cuda::paged_attention(ddq.p, n_heads, layer, dev_decode.p, host_decode.data(), 3, scale, ddout.p, workspace.p,
                            nullptr);
      const auto decoded = ddout.download();
      for (int s = 0; s < 3; ++s) {
        const int64_t last = seqs[static_cast<size_t>(s)].q_begin + fresh[s] - 1;
        const bool same = std::memcmp(decoded.data() + s * q_width, want.data() + last * q_width,
                                      sizeof(float) * static_cast<size_t>(q_width)) == 0;
        BOOST_TEST(same,
                   kv_dtype_name(dtype) << ", head_dim " << head_dim << ": decode of sequence " << s);
      }
    }
}

// Segment attention (segments of 37, 300 and 1 rows from row 3, padded strides): the emulation's
// bits, whole and with the query rows split over two calls.
BOOST_AUTO_TEST_CASE(segment_attention_gives_the_emulations_bits, *boost::unit_test::precondition(has_device)) {
  const SegmentCase segment_case;
  const auto& [bounds, q, k, v, scale] = segment_case;
  constexpr int heads = SegmentCase::heads, head_dim = SegmentCase::head_dim;
  constexpr int64_t row_stride = SegmentCase::row_stride, out_stride = SegmentCase::out_stride, rows = SegmentCase::rows;
  std::vector<float> want(static_cast<size_t>(rows * out_stride), -7.0f);
  emulate_segment_attention(q.data(), k.data(), v.data(), row_stride, heads, head_dim, bounds, scale, 0, rows,
                            want.data(), out_stride);
  DeviceCopy<float> dq(q), dk(k), dv(v), dout(std::vector<float>(want.size(), -7.0f));
  DeviceCopy<int64_t> dbounds(bounds);
  cuda::segment_attention(dq.p, dk.p, dv.p, row_stride, heads, head_dim, dbounds.p, bounds.data(), 3, scale, 0, 100,
                          dout.p, out_stride, nullptr);
  cuda::segment_attention(dq.p, dk.p, dv.p, row_stride, heads, head_dim, dbounds.p, bounds.data(), 3, scale, 100, rows,
                          dout.p, out_stride, nullptr);
  const auto got = dout.download();
  BOOST_TEST(std::memcmp(got.data(), want.data(), sizeof(float) * got.size()) == 0);
}
