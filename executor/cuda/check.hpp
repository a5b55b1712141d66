// Check macros for every CUDA runtime, cuBLAS and NCCL call: a failure throws CudaError whose
// message names the call, file:line and the library's own error string, e.g.
//   "CUDA error at executor/cuda/gemm.cpp:41: cudaMalloc(&p, bytes): out of memory (2)".
// The macros take the call's status value, so this header needs none of the libraries' headers.
#pragma once
#include <stdexcept>
#include <string>

namespace shardplan::executor::cuda {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Build the message and throw. `code` is the library's status (cudaError_t, cublasStatus_t,
// ncclResult_t) as an int; `detail` is extra text (NCCL's last error), may be empty.
[[noreturn]] void throw_cuda_error(int code, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(int code, const char* expr, const char* file, int line);
[[noreturn]] void throw_nccl_error(int code, const char* expr, const char* file, int line,
                                   const std::string& detail);
// The message the CUDA_CHECK macro would throw, for code that must not throw (destructors).
std::string cuda_error_message(int code, const char* expr, const char* file, int line);

}  // namespace shardplan::executor::cuda

#define SHARDPLAN_CUDA_CHECK(call)                                                                 \
  do {                                                                                             \
    const int shardplan_status_ = static_cast<int>(call);                                          \
    if (shardplan_status_ != 0)                                                                    \
      ::shardplan::executor::cuda::throw_cuda_error(shardplan_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define SHARDPLAN_CUBLAS_CHECK(call)                                                      \
  do {                                                                                    \
    const int shardplan_status_ = static_cast<int>(call);                                 \
    if (shardplan_status_ != 0)                                                           \
      ::shardplan::executor::cuda::throw_cublas_error(shardplan_status_, #call, __FILE__, \
                                                      __LINE__);                          \
  } while (0)

// After a kernel launch: reports a bad launch configuration at the launch site.
#define SHARDPLAN_CUDA_CHECK_LAUNCH() SHARDPLAN_CUDA_CHECK(cudaGetLastError())

// For files that include <nccl.h>: the message carries ncclGetErrorString and ncclGetLastError.
#define SHARDPLAN_NCCL_CHECK(call)                                                              \
  do {                                                                                          \
    const ncclResult_t shardplan_nccl_ = (call);                                                \
    if (shardplan_nccl_ != ncclSuccess && shardplan_nccl_ != ncclInProgress)                    \
      ::shardplan::executor::cuda::throw_nccl_error(                                            \
          static_cast<int>(shardplan_nccl_), #call, __FILE__, __LINE__,                         \
          std::string(ncclGetErrorString(shardplan_nccl_)) + "; " + ncclGetLastError(nullptr)); \
  } while (0)
