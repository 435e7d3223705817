// CUDA and cuBLAS status codes turned into pio::BackendError.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "gpu/backend_error.h"

namespace pio::cuda {

// Throws BackendError("CUDA: <what>: <CUDA's words>") unless err is cudaSuccess.
inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw BackendError(std::string("CUDA: ") + what + ": " + cudaGetErrorString(err));
}

// Throws BackendError("cuBLAS: <what>: <status name>") unless status is CUBLAS_STATUS_SUCCESS.
inline void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw BackendError(std::string("cuBLAS: ") + what + ": " + cublasGetStatusName(status));
}

}  // namespace pio::cuda
