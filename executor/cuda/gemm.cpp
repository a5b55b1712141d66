// cuBLAS calls behind gemm.hpp. Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ,
// and a row-major [r, c] matrix with row stride ld is a column-major [c, r] one with the same
// ld, so the call swaps A and B and keeps each one's transpose flag.
#include "executor/cuda/gemm.hpp"

#include <cublas_v2.h>

#include <climits>
#include <stdexcept>
#include <string>

#include "executor/cuda/check.hpp"

namespace shardplan::executor::cuda {

namespace {
constexpr int64_t kWorkspaceBytes = int64_t{32} << 20;  // cuBLAS asks for up to 32 MiB on Hopper

cublasHandle_t H(const Blas& b) {
  return static_cast<cublasHandle_t>(b.handle());
}

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw std::invalid_argument(std::string("gemm: ") + what + " = " + std::to_string(v) +
                                " does not fit cuBLAS's int");
  return static_cast<int>(v);
}
cudaDataType_t dtype(OutType t) {
  return t == OutType::bf16 ? CUDA_R_16BF : CUDA_R_32F;
}
cublasOperation_t op(bool t) {
  return t ? CUBLAS_OP_T : CUBLAS_OP_N;
}
}  // namespace

Blas::Blas(Stream s) : stream_(s) {
  cublasHandle_t h = nullptr;
  SHARDPLAN_CUBLAS_CHECK(cublasCreate(&h));
  handle_ = h;
  try {
    SHARDPLAN_CUBLAS_CHECK(cublasSetStream(h, s));
    SHARDPLAN_CUDA_CHECK(cudaMalloc(&workspace_, kWorkspaceBytes));
    SHARDPLAN_CUBLAS_CHECK(cublasSetWorkspace(h, workspace_, kWorkspaceBytes));
  } catch (...) {
    if (workspace_) cudaFree(workspace_);
    cublasDestroy(h);
    throw;
  }
}

Blas::~Blas() {
  cudaStreamSynchronize(stream_);  // the workspace may still be in use
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasDestroy(H(*this));
}

void gemm(Blas& blas, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const bf16* a, int64_t lda, const bf16* b, int64_t ldb, float beta, void* c,
          OutType c_type, int64_t ldc) {
  if (m == 0 || n == 0) return;
  SHARDPLAN_CUBLAS_CHECK(cublasGemmEx(
      H(blas), op(trans_b), op(trans_a), to_int(n, "n"), to_int(m, "m"), to_int(k, "k"), &alpha, b,
      CUDA_R_16BF, to_int(ldb, "ldb"), a, CUDA_R_16BF, to_int(lda, "lda"), &beta, c, dtype(c_type),
      to_int(ldc, "ldc"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void gemm_strided_batched(Blas& blas, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                          float alpha, const bf16* a, int64_t lda, int64_t stride_a, const bf16* b,
                          int64_t ldb, int64_t stride_b, float beta, void* c, OutType c_type,
                          int64_t ldc, int64_t stride_c, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  SHARDPLAN_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      H(blas), op(trans_b), op(trans_a), to_int(n, "n"), to_int(m, "m"), to_int(k, "k"), &alpha, b,
      CUDA_R_16BF, to_int(ldb, "ldb"), stride_b, a, CUDA_R_16BF, to_int(lda, "lda"), stride_a,
      &beta, c, dtype(c_type), to_int(ldc, "ldc"), stride_c, to_int(batch, "batch"),
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace shardplan::executor::cuda
