// CUDA and cuBLAS status codes as the CUDA backend reports them (gpu/cuda/cuda_check.h): the
// errors that leave the device unusable become DeviceLost, which moves an engine group's work to
// the CPU, and the others a BackendError that fails only the call. No device is needed: the
// codes are classified and named by the runtime library alone.
#define BOOST_TEST_MODULE cuda_errors
#include <boost/test/unit_test.hpp>

#include <string>

#include "gpu/cuda/cuda_check.h"

using namespace pio;

namespace {

// What check(err, "step") throws: 2 for DeviceLost, 1 for another BackendError, 0 for nothing;
// message gets its text.
int thrown_by(cudaError_t err, std::string& message) {
  try {
    cuda::check(err, "step");
  } catch (const DeviceLost& e) {
    message = e.what();
    return 2;
  } catch (const BackendError& e) {
    message = e.what();
    return 1;
  }
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(errors_that_end_the_context_are_device_lost_and_the_rest_fail_only_the_call) {
  std::string message;
  for (const cudaError_t err : {cudaErrorIllegalAddress, cudaErrorLaunchFailure, cudaErrorIllegalInstruction,
                                cudaErrorMisalignedAddress, cudaErrorHardwareStackError, cudaErrorAssert,
                                cudaErrorECCUncorrectable, cudaErrorLaunchTimeout}) {
    BOOST_TEST(thrown_by(err, message) == 2, cudaGetErrorName(err));
    BOOST_TEST(message == std::string("CUDA: step: ") + cudaGetErrorString(err));
  }
  for (const cudaError_t err : {cudaErrorMemoryAllocation, cudaErrorInvalidValue, cudaErrorNoDevice,
                                cudaErrorInvalidDeviceFunction, cudaErrorNotReady})
    BOOST_TEST(thrown_by(err, message) == 1, cudaGetErrorName(err));
  BOOST_TEST(thrown_by(cudaSuccess, message) == 0);
}

BOOST_AUTO_TEST_CASE(a_cublas_failure_without_a_dead_context_fails_only_the_call) {
  // No device here, or a healthy one: cudaDeviceSynchronize does not report a dead context.
  BOOST_CHECK_NO_THROW(cuda::check(CUBLAS_STATUS_SUCCESS, "gemm"));
  for (const cublasStatus_t status : {CUBLAS_STATUS_EXECUTION_FAILED, CUBLAS_STATUS_INTERNAL_ERROR,
                                      CUBLAS_STATUS_ALLOC_FAILED, CUBLAS_STATUS_INVALID_VALUE}) {
    try {
      cuda::check(status, "gemm");
      BOOST_FAIL("no error thrown");
    } catch (const DeviceLost&) {
      BOOST_FAIL("DeviceLost without a failed CUDA call");
    } catch (const BackendError& e) {
      BOOST_TEST(std::string(e.what()) == std::string("cuBLAS: gemm: ") + cublasGetStatusName(status));
    }
  }
}

// Which statuses send the check to the context: those a dead one can cause, not the refusals
// cuBLAS makes before any device work.
BOOST_AUTO_TEST_CASE(only_statuses_that_may_come_from_the_device_ask_the_context) {
  for (const cublasStatus_t status : {CUBLAS_STATUS_EXECUTION_FAILED, CUBLAS_STATUS_INTERNAL_ERROR,
                                      CUBLAS_STATUS_NOT_INITIALIZED, CUBLAS_STATUS_ALLOC_FAILED,
                                      CUBLAS_STATUS_MAPPING_ERROR})
    BOOST_TEST(cuda::may_hide_a_device_error(status), cublasGetStatusName(status));
  for (const cublasStatus_t status : {CUBLAS_STATUS_SUCCESS, CUBLAS_STATUS_INVALID_VALUE, CUBLAS_STATUS_NOT_SUPPORTED,
                                      CUBLAS_STATUS_ARCH_MISMATCH})
    BOOST_TEST(!cuda::may_hide_a_device_error(status), cublasGetStatusName(status));
}
