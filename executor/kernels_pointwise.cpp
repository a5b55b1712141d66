// Norms and activations (forward and backward), templated for float and double.
#include <cmath>

#include "executor/kernels.hpp"

namespace shardplan::executor {

template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
                       int64_t n, int64_t h) {
  for (int64_t i = 0; i < n; ++i) {
    const T* xi = x + i * h;
    T m = 0;
    for (int64_t j = 0; j < h; ++j) m += xi[j];
    m /= T(h);
    T var = 0;
    for (int64_t j = 0; j < h; ++j) var += (xi[j] - m) * (xi[j] - m);
    var /= T(h);
    const T r = T(1) / std::sqrt(var + T(kNormEps));
    mean[i] = m;
    rstd[i] = r;
    for (int64_t j = 0; j < h; ++j) y[i * h + j] = (xi[j] - m) * r * gamma[j] + beta[j];
  }
}

// dx = rstd·(dxhat - mean(dxhat) - xhat·mean(dxhat·xhat)), dxhat = dy·gamma.
template <class T>
void layernorm_backward(const T* dy, const T* x, const T* gamma, const T* mean, const T* rstd,
                        T* dx, T* dgamma, T* dbeta, int64_t n, int64_t h) {
  for (int64_t i = 0; i < n; ++i) {
    const T* xi = x + i * h;
    const T* dyi = dy + i * h;
    T sum_d = 0, sum_dx = 0;
    for (int64_t j = 0; j < h; ++j) {
      const T xhat = (xi[j] - mean[i]) * rstd[i];
      const T d = dyi[j] * gamma[j];
      sum_d += d;
      sum_dx += d * xhat;
      dgamma[j] += dyi[j] * xhat;
      dbeta[j] += dyi[j];
    }
    sum_d /= T(h);
    sum_dx /= T(h);
    for (int64_t j = 0; j < h; ++j) {
      const T xhat = (xi[j] - mean[i]) * rstd[i];
      dx[i * h + j] += rstd[i] * (dyi[j] * gamma[j] - sum_d - xhat * sum_dx);
    }
  }
}

template <class T>
void rmsnorm_forward(const T* x, const T* gamma, T* y, T* rstd, int64_t n, int64_t h) {
  for (int64_t i = 0; i < n; ++i) {
    const T* xi = x + i * h;
    T ms = 0;
    for (int64_t j = 0; j < h; ++j) ms += xi[j] * xi[j];
    const T r = T(1) / std::sqrt(ms / T(h) + T(kNormEps));
    rstd[i] = r;
    for (int64_t j = 0; j < h; ++j) y[i * h + j] = xi[j] * r * gamma[j];
  }
}

// dx = rstd·(dxhat - xhat·mean(dxhat·xhat)), xhat = x·rstd.
template <class T>
void rmsnorm_backward(const T* dy, const T* x, const T* gamma, const T* rstd, T* dx, T* dgamma,
                      int64_t n, int64_t h) {
  for (int64_t i = 0; i < n; ++i) {
    const T* xi = x + i * h;
    const T* dyi = dy + i * h;
    T sum_dx = 0;
    for (int64_t j = 0; j < h; ++j) {
      const T xhat = xi[j] * rstd[i];
      sum_dx += dyi[j] * gamma[j] * xhat;
      dgamma[j] += dyi[j] * xhat;
    }
    sum_dx /= T(h);
    for (int64_t j = 0; j < h; ++j)
      dx[i * h + j] += rstd[i] * (dyi[j] * gamma[j] - xi[j] * rstd[i] * sum_dx);
  }
}

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;
}  // namespace

template <class T>
void gelu_forward(const T* u, T* g, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T x = u[i];
    g[i] = T(0.5) * x * (T(1) + std::tanh(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x)));
  }
}

template <class T>
void gelu_backward(const T* dg, const T* u, T* du, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T x = u[i];
    const T t = std::tanh(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x));
    const T dt = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x * x) * (T(1) - t * t);
    du[i] = dg[i] * (T(0.5) * (T(1) + t) + T(0.5) * x * dt);
  }
}

template <class T>
void swiglu_forward(const T* gate, const T* up, T* g, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T s = T(1) / (T(1) + std::exp(-gate[i]));
    g[i] = gate[i] * s * up[i];
  }
}

template <class T>
void swiglu_backward(const T* dg, const T* gate, const T* up, T* dgate, T* dup, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T s = T(1) / (T(1) + std::exp(-gate[i]));
    const T silu = gate[i] * s;
    dup[i] = dg[i] * silu;
    dgate[i] = dg[i] * up[i] * s * (T(1) + gate[i] * (T(1) - s));
  }
}

#define SHARDPLAN_INSTANTIATE(T)                                                               \
  template void layernorm_forward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t,      \
                                     int64_t);                                               \
  template void layernorm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*,  \
                                      T*, T*, int64_t, int64_t);                             \
  template void rmsnorm_forward<T>(const T*, const T*, T*, T*, int64_t, int64_t);            \
  template void rmsnorm_backward<T>(const T*, const T*, const T*, const T*, T*, T*, int64_t, \
                                    int64_t);                                                \
  template void gelu_forward<T>(const T*, T*, int64_t);                                      \
  template void gelu_backward<T>(const T*, const T*, T*, int64_t);                           \
  template void swiglu_forward<T>(const T*, const T*, T*, int64_t);                          \
  template void swiglu_backward<T>(const T*, const T*, const T*, T*, T*, int64_t);
SHARDPLAN_INSTANTIATE(float)
SHARDPLAN_INSTANTIATE(double)
#undef SHARDPLAN_INSTANTIATE

}  // namespace shardplan::executor
