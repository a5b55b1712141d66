// Row-major GEMM on raw buffers, C = alpha·op(A)·op(B) + beta·C, and the three linear-layer
// products built on it. gemm.cpp is the only file that includes Eigen (it compiles slowly).
#pragma once
#include <cstdint>

namespace shardplan::executor {

// op(A): [m, k], op(B): [k, n], C: [m, n]; lda/ldb/ldc are row strides of the stored matrices.
// beta == 0 overwrites C (NaNs in C do not propagate).
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// A linear layer with weight w: [in, out] (x·w). Shapes: x [rows, in], y [rows, out].
template <class T>
void linear_forward(const T* x, const T* w, T* y, int64_t rows, int64_t in, int64_t out) {
  gemm<T>(false, false, rows, out, in, T(1), x, in, w, out, T(0), y, out);
}
// dx (+)= dy·wᵀ
template <class T>
void linear_backward_input(const T* dy, const T* w, T* dx, int64_t rows, int64_t in, int64_t out,
                           bool accumulate) {
  gemm<T>(false, true, rows, in, out, T(1), dy, out, w, out, accumulate ? T(1) : T(0), dx, in);
}
// dw += xᵀ·dy
template <class T>
void linear_backward_weight(const T* x, const T* dy, T* dw, int64_t rows, int64_t in, int64_t out) {
  gemm<T>(true, false, in, out, rows, T(1), x, in, dy, out, T(1), dw, out);
}

}  // namespace shardplan::executor
