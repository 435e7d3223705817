// CUDA and cuBLAS status codes turned into pio::BackendError, or pio::DeviceLost when the
// device's context can no longer be used.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "gpu/backend_error.h"

namespace pio::cuda {

// The errors after which, in the CUDA runtime's documentation, "any further CUDA work will return
// the same error" and the process must be restarted to use CUDA again, and an uncorrectable ECC
// error (the device's memory can no longer be trusted). The codes CUDA 12 toolkits (the Pascal
// build) may lack are named from CUDA 13 on. cudaErrorUnknown is not among them: CUDA does not
// say it ends the context.
inline bool leaves_device_unusable(cudaError_t err) {
  switch (err) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure:
    case cudaErrorECCUncorrectable:
#if CUDART_VERSION >= 13000
    case cudaErrorContained:
    case cudaErrorTensorMemoryLeak:
    case cudaErrorMpsClientTerminated:
    case cudaErrorExternalDevice:
#endif
      return true;
    default:
      return false;
  }
}

// Throws "CUDA: <what>: <CUDA's words>" unless err is cudaSuccess: DeviceLost when err leaves the
// device unusable, else BackendError.
inline void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  // The runtime also keeps err as the thread's last error: clear it, or the next launch check
  // would report an out-of-memory or bad argument met here as its own failure. (A sticky error
  // stays whatever is done: every later call fails with it.)
  cudaGetLastError();
  const std::string message = std::string("CUDA: ") + what + ": " + cudaGetErrorString(err);
  if (leaves_device_unusable(err)) throw DeviceLost(message);
  throw BackendError(message);
}

// Whether a cuBLAS status may hide a dead context: all but the refusals of an argument or of
// what the card cannot do, which cuBLAS finds before touching the device.
inline bool may_hide_a_device_error(cublasStatus_t status) {
  return status != CUBLAS_STATUS_SUCCESS && status != CUBLAS_STATUS_INVALID_VALUE &&
         status != CUBLAS_STATUS_NOT_SUPPORTED && status != CUBLAS_STATUS_ARCH_MISMATCH;
}

// Throws "cuBLAS: <what>: <status name>" unless status is CUBLAS_STATUS_SUCCESS: DeviceLost when
// the device is no longer usable, else BackendError. cuBLAS keeps the CUDA error behind its status
// to itself (a failed kernel is EXECUTION_FAILED; a dead context may also give INTERNAL_ERROR,
// NOT_INITIALIZED or ALLOC_FAILED), so the context is asked: a dead one fails
// cudaDeviceSynchronize with its error.
inline void check(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const std::string message = std::string("cuBLAS: ") + what + ": " + cublasGetStatusName(status);
  if (may_hide_a_device_error(status))
    if (const cudaError_t context = cudaDeviceSynchronize(); leaves_device_unusable(context))
      throw DeviceLost(message + " (" + cudaGetErrorString(context) + ")");
  throw BackendError(message);
}

}  // namespace pio::cuda
