// GEMMs of the CUDA backend through cuBLAS (cublasGemmEx: bf16 A and B, float accumulation,
// bf16 or float C), with the row-major conventions of executor/gemm.hpp, and the three
// linear-layer products built on it. Weights are [in, out] (y = x·W).
#pragma once
#include <cstdint>

#include "executor/cuda/device.hpp"

namespace shardplan::executor::cuda {

// A cuBLAS handle bound to one stream (one per rank), with its own workspace so that results
// are bit-reproducible run to run.
class Blas {
 public:
  explicit Blas(Stream s);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;
  Stream stream() const { return stream_; }
  void* handle() const { return handle_; }

 private:
  Stream stream_;
  void* handle_ = nullptr;     // cublasHandle_t
  void* workspace_ = nullptr;  // device memory
};

enum class OutType { bf16, f32 };

// Row-major C[m, n] = alpha·op(A)·op(B) + beta·C; lda/ldb/ldc are the stored matrices' row
// strides. beta == 0 overwrites C.
void gemm(Blas& blas, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const bf16* a, int64_t lda, const bf16* b, int64_t ldb, float beta, void* c,
          OutType c_type, int64_t ldc);
// `batch` independent products, matrix i at a + i·stride_a (elements), likewise b and c.
void gemm_strided_batched(Blas& blas, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                          float alpha, const bf16* a, int64_t lda, int64_t stride_a, const bf16* b,
                          int64_t ldb, int64_t stride_b, float beta, void* c, OutType c_type,
                          int64_t ldc, int64_t stride_c, int64_t batch);

// y = x·w: x [rows, in], w [in, out], y [rows, out].
inline void linear_forward(Blas& bl, const bf16* x, const bf16* w, bf16* y, int64_t rows,
                           int64_t in, int64_t out) {
  gemm(bl, false, false, rows, out, in, 1.f, x, in, w, out, 0.f, y, OutType::bf16, out);
}
inline void linear_forward(Blas& bl, const bf16* x, const bf16* w, float* y, int64_t rows,
                           int64_t in, int64_t out) {
  gemm(bl, false, false, rows, out, in, 1.f, x, in, w, out, 0.f, y, OutType::f32, out);
}
// dx = dy·wᵀ (bf16, overwritten) or dx (+)= dy·wᵀ (float).
inline void linear_backward_input(Blas& bl, const bf16* dy, const bf16* w, bf16* dx, int64_t rows,
                                  int64_t in, int64_t out) {
  gemm(bl, false, true, rows, in, out, 1.f, dy, out, w, out, 0.f, dx, OutType::bf16, in);
}
inline void linear_backward_input(Blas& bl, const bf16* dy, const bf16* w, float* dx, int64_t rows,
                                  int64_t in, int64_t out, bool accumulate) {
  gemm(bl, false, true, rows, in, out, 1.f, dy, out, w, out, accumulate ? 1.f : 0.f, dx,
       OutType::f32, in);
}
// dw += xᵀ·dy (float gradient).
inline void linear_backward_weight(Blas& bl, const bf16* x, const bf16* dy, float* dw, int64_t rows,
                                   int64_t in, int64_t out) {
  gemm(bl, true, false, in, out, rows, 1.f, x, in, dy, out, 1.f, dw, OutType::f32, out);
}

}  // namespace shardplan::executor::cuda
