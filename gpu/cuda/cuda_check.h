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
// error (the device's memory can no longer be trusted).
inline bool leaves_device_unusable(cudaError_t err) {
  switch (err) {
    case cudaErrorContained:
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure:
    case cudaErrorTensorMemoryLeak:
    case cudaErrorMpsClientTerminated:
    case cudaErrorExternalDevice:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

// Throws "CUDA: <what>: <CUDA's words>" unless err is cudaSuccess: DeviceLost when err leaves the
// device unusable, else BackendError.
inline void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  const std::string message = std::string("CUDA: ") + what + ": " + cudaGetErrorString(err);
  if (leaves_device_unusable(err)) throw DeviceLost(message);
  throw BackendError(message);
}

// Throws "cuBLAS: <what>: <status name>" unless status is CUBLAS_STATUS_SUCCESS: DeviceLost when
// the CUDA runtime's last error leaves the device unusable (cuBLAS reports such a failure of its
// kernels as CUBLAS_STATUS_EXECUTION_FAILED), else BackendError.
inline void check(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const std::string message = std::string("cuBLAS: ") + what + ": " + cublasGetStatusName(status);
  if (const cudaError_t last = cudaPeekAtLastError(); leaves_device_unusable(last))
    throw DeviceLost(message + " (" + cudaGetErrorString(last) + ")");
  throw BackendError(message);
}

}  // namespace pio::cuda
