// The CUDA backend a device test runs on, made once, or why there is none: the tests' cases take
// `precondition(has_cuda_backend)`, so without a usable device each is skipped and the run
// prints one line saying why.
#pragma once

#include <boost/test/unit_test.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "gpu/backend_error.h"
#include "gpu/cuda/cuda_backend.h"

namespace pio::testing {

struct CudaTestBackend {
  std::unique_ptr<Backend> cuda;
  std::string why_not;
};

// The backend on device 0; the first call prints "<test>: every case skipped: <why>" without one.
inline CudaTestBackend& cuda_test_backend() {
  static CudaTestBackend d = [] {
    CudaTestBackend made;
    try {
      made.cuda = make_cuda_backend();
    } catch (const BackendError& e) {
      made.why_not = e.what();
      std::cout << boost::unit_test::framework::master_test_suite().p_name.value
                << ": every case skipped: " << made.why_not << "\n";
    }
    return made;
  }();
  return d;
}

// Gives the backend back after the last case, while the CUDA runtime is surely still loaded: a
// static's destructor at exit may run after the runtime has been torn down.
struct ReleaseCudaTestBackend {
  void setup() {}
  void teardown() { cuda_test_backend().cuda.reset(); }
};
BOOST_TEST_GLOBAL_FIXTURE(ReleaseCudaTestBackend);

inline boost::test_tools::assertion_result has_cuda_backend(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(cuda_test_backend().cuda != nullptr);
  r.message() << cuda_test_backend().why_not;
  return r;
}

}  // namespace pio::testing
