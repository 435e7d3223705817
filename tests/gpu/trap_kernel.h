// A real device fault for the device tests: a kernel that executes a trap instruction.
#pragma once

namespace test {

// Runs the trapping kernel on the current device and waits for it. Afterwards the process's CUDA
// context is unusable: every later CUDA call fails (cudaErrorLaunchFailure or similar). Returns
// the cudaError_t of the wait.
int trap_device();

}  // namespace test
