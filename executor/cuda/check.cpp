// Messages of the check macros: the library's own error name and string with the call site.
#include "executor/cuda/check.hpp"

#include <cublas_api.h>
#include <cuda_runtime_api.h>

namespace shardplan::executor::cuda {

namespace {
std::string site(const char* lib, const char* expr, const char* file, int line) {
  return std::string(lib) + " error at " + file + ":" + std::to_string(line) + ": " + expr + ": ";
}
}  // namespace

std::string cuda_error_message(int code, const char* expr, const char* file, int line) {
  const auto e = static_cast<cudaError_t>(code);
  return site("CUDA", expr, file, line) + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")";
}

void throw_cuda_error(int code, const char* expr, const char* file, int line) {
  throw CudaError(cuda_error_message(code, expr, file, line));
}

void throw_cublas_error(int code, const char* expr, const char* file, int line) {
  const auto s = static_cast<cublasStatus_t>(code);
  throw CudaError(site("cuBLAS", expr, file, line) + cublasGetStatusString(s) + " (" +
                  cublasGetStatusName(s) + ")");
}

void throw_nccl_error(int code, const char* expr, const char* file, int line,
                      const std::string& detail) {
  // ncclGetErrorString lives in libnccl; the caller (comm_nccl.cpp) passes it in `detail`.
  throw CudaError(site("NCCL", expr, file, line) + detail + " (ncclResult_t " +
                  std::to_string(code) + ")");
}

}  // namespace shardplan::executor::cuda
