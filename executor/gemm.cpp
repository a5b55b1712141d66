// gemm() through Eigen maps over the caller's buffers (single-threaded, so deterministic).
#include "executor/gemm.hpp"

#include <Eigen/Core>

namespace shardplan::executor {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using CMap = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
  Eigen::Map<Mat, 0, Eigen::OuterStride<>> C(c, m, n, Eigen::OuterStride<>(ldc));
  if (m == 0 || n == 0) return;
  if (beta == T(0))
    C.setZero();
  else if (beta != T(1))
    C *= beta;
  if (k == 0) return;
  // Stored shapes: A is [m,k] or [k,m]; B is [k,n] or [n,k].
  CMap A(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  CMap B(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  if (!trans_a && !trans_b) C.noalias() += alpha * (A * B);
  if (!trans_a && trans_b) C.noalias() += alpha * (A * B.transpose());
  if (trans_a && !trans_b) C.noalias() += alpha * (A.transpose() * B);
  if (trans_a && trans_b) C.noalias() += alpha * (A.transpose() * B.transpose());
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

}  // namespace shardplan::executor
