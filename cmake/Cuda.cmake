# Decides PIO_CUDA_ENABLED from PIO_CUDA (AUTO | ON | OFF) and, when enabled, turns on the CUDA
# language for PIO_CUDA_ARCHITECTURES with warnings as errors in both nvcc and its host compiler.
set(PIO_CUDA_ENABLED OFF)
if(NOT PIO_CUDA MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "PIO_CUDA must be AUTO, ON or OFF (got '${PIO_CUDA}')")
endif()
if((PIO_SANITIZE OR PIO_FUZZ) AND PIO_CUDA STREQUAL "AUTO")
  message(STATUS "CUDA backend: off in the sanitizer and fuzz builds (their flags are host-only)")
elseif(NOT PIO_CUDA STREQUAL "OFF")
  # An explicit compiler (-DCMAKE_CUDA_COMPILER or $CUDACXX) first, then PATH, then the default
  # toolkit location (nvcc is often not on PATH).
  if(CMAKE_CUDA_COMPILER)
    set(PIO_NVCC ${CMAKE_CUDA_COMPILER})
  elseif(DEFINED ENV{CUDACXX})
    set(PIO_NVCC $ENV{CUDACXX})
  else()
    find_program(PIO_NVCC nvcc PATHS /usr/local/cuda/bin NO_CACHE)
  endif()
  if(PIO_NVCC)
    set(PIO_CUDA_ENABLED ON)
  elseif(PIO_CUDA STREQUAL "ON")
    message(FATAL_ERROR "PIO_CUDA=ON but nvcc was found neither on PATH nor in /usr/local/cuda/bin: "
                        "install the CUDA toolkit, set CUDACXX, or configure with -DPIO_CUDA=OFF")
  endif()
endif()

if(PIO_CUDA_ENABLED)
  if(PIO_SANITIZE OR PIO_FUZZ)
    message(FATAL_ERROR "PIO_CUDA=ON cannot be combined with PIO_SANITIZE or PIO_FUZZ")
  endif()
  if(NOT CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_COMPILER ${PIO_NVCC})
  endif()
  set(CMAKE_CUDA_ARCHITECTURES ${PIO_CUDA_ARCHITECTURES})
  # The shared runtime that CUDA::cudart links, not nvcc's default static one beside it: one
  # runtime (one set of contexts and sticky errors) per process.
  set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # C++20 as the host code (gpu/backend.h uses std::span). CMake 3.25 does not know nvcc 13's
  # C++20 flag, so it is told.
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  if(CCACHE_PROGRAM)
    set(CMAKE_CUDA_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  endif()
  # nvcc's own warnings as errors, and the host compiler's usual set on the host side of .cu files.
  add_compile_options($<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>
                      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Werror>)
  message(STATUS "CUDA backend: on (${CMAKE_CUDA_COMPILER}, CUDA ${CUDAToolkit_VERSION}, "
                 "architectures ${CMAKE_CUDA_ARCHITECTURES})")
elseif(NOT (PIO_SANITIZE OR PIO_FUZZ))
  message(STATUS "CUDA backend: off (PIO_CUDA=${PIO_CUDA})")
endif()
