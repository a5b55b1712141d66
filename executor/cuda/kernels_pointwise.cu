// Elementwise, per-row and reduction kernels of the CUDA backend (see kernels.hpp). Per-row
// kernels give one block to one row; column sums (norm parameter gradients) and whole-array sums
// run in two fixed-order stages, never atomics, so results are bit-reproducible.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "executor/cuda/check.hpp"
#include "executor/cuda/kernels.hpp"

namespace shardplan::executor::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float ld(const bf16* p, int64_t i) {
  return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(p)[i]);
}
__device__ __forceinline__ void st(bf16* p, int64_t i, float v) {
  reinterpret_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v);
}

unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, int64_t{1} << 16));
}
unsigned rows_grid(int64_t n) {
  return static_cast<unsigned>(std::max<int64_t>(n, 1));
}

#define GRID_STRIDE(i, n)                                                   \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
template <class T>
__device__ T block_sum(T v, T* sh) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  __syncthreads();  // sh may still be read from a previous call
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < int(blockDim.x >> 5) ? sh[lane] : T(0);
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ float block_max(float v, float* sh) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < int(blockDim.x >> 5) ? sh[lane] : -INFINITY;
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// ---------------- conversions ----------------
__global__ void k_f32_to_bf16(const float* x, bf16* y, int64_t n) {
  GRID_STRIDE(i, n) st(y, i, x[i]);
}
__global__ void k_bf16_to_f32(const bf16* x, float* y, int64_t n) {
  GRID_STRIDE(i, n) y[i] = ld(x, i);
}
__global__ void k_add_f32(float* acc, const float* x, int64_t n) {
  GRID_STRIDE(i, n) acc[i] += x[i];
}
__global__ void k_residual_add(const bf16* x, const float* d, bf16* y, int64_t n) {
  GRID_STRIDE(i, n) st(y, i, ld(x, i) + d[i]);
}

template <class A>
__device__ A load_as(const void* x, DevType t, int64_t i) {
  if (t == DevType::f32) return A(static_cast<const float*>(x)[i]);
  if (t == DevType::f64) return A(static_cast<const double*>(x)[i]);
  return A(ld(static_cast<const bf16*>(x), i));
}
template <class A>
__global__ void k_acc_load(A* acc, const void* x, DevType t, int64_t n) {
  GRID_STRIDE(i, n) acc[i] = load_as<A>(x, t, i);
}
template <class A>
__global__ void k_acc_reduce(A* acc, const void* x, DevType t, int64_t n, bool max) {
  GRID_STRIDE(i, n) {
    const A v = load_as<A>(x, t, i);
    acc[i] = max ? (v > acc[i] ? v : acc[i]) : acc[i] + v;
  }
}
template <class A>
__global__ void k_acc_store(const A* acc, void* y, DevType t, int64_t n) {
  GRID_STRIDE(i, n) {
    if (t == DevType::f32)
      static_cast<float*>(y)[i] = float(acc[i]);
    else if (t == DevType::f64)
      static_cast<double*>(y)[i] = double(acc[i]);
    else
      st(static_cast<bf16*>(y), i, float(acc[i]));
  }
}

// ---------------- norms ----------------
__global__ void k_layernorm_forward(const bf16* x, const bf16* gamma, const bf16* beta, bf16* y,
                                    float* mean, float* rstd, int64_t h) {
  __shared__ float sh[32];
  const bf16* xi = x + blockIdx.x * h;
  float s = 0;
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) s += ld(xi, j);
  const float m = block_sum(s, sh) / float(h);
  float v = 0;
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) {
    const float d = ld(xi, j) - m;
    v += d * d;
  }
  const float r = rsqrtf(block_sum(v, sh) / float(h) + float(kNormEps));
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x)
    st(y, blockIdx.x * h + j, (ld(xi, j) - m) * r * ld(gamma, j) + ld(beta, j));
  if (threadIdx.x == 0) mean[blockIdx.x] = m, rstd[blockIdx.x] = r;
}

__global__ void k_rmsnorm_forward(const bf16* x, const bf16* gamma, bf16* y, float* rstd,
                                  int64_t h) {
  __shared__ float sh[32];
  const bf16* xi = x + blockIdx.x * h;
  float s = 0;
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) s += ld(xi, j) * ld(xi, j);
  const float r = rsqrtf(block_sum(s, sh) / float(h) + float(kNormEps));
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x)
    st(y, blockIdx.x * h + j, ld(xi, j) * r * ld(gamma, j));
  if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}

// dx += rstd·(dxhat - mean(dxhat) - xhat·mean(dxhat·xhat)), dxhat = dy·gamma; mean == nullptr
// is RMSNorm (xhat = x·rstd, no mean(dxhat) term).
__global__ void k_norm_backward_dx(const float* dy, const bf16* x, const bf16* gamma,
                                   const float* mean, const float* rstd, float* dx, int64_t h) {
  __shared__ float sh[32];
  const int64_t row = blockIdx.x;
  const float m = mean ? mean[row] : 0.f, r = rstd[row];
  float sd = 0, sdx = 0;
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) {
    const float d = dy[row * h + j] * ld(gamma, j);
    sd += d;
    sdx += d * (ld(x, row * h + j) - m) * r;
  }
  sd = mean ? block_sum(sd, sh) / float(h) : 0.f;
  sdx = block_sum(sdx, sh) / float(h);
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) {
    const float xhat = (ld(x, row * h + j) - m) * r;
    dx[row * h + j] += r * (dy[row * h + j] * ld(gamma, j) - sd - xhat * sdx);
  }
}

// Column partial sums over row chunks: part[c][j] = Σ_{rows of chunk c} dy·xhat (and dy).
constexpr int kColTile = 32, kColRows = 8;
__global__ void k_norm_param_partials(const float* dy, const bf16* x, const float* mean,
                                      const float* rstd, int64_t n, int64_t h, int64_t rows_per,
                                      float* part_w, float* part_b) {
  __shared__ float sw[kColRows][kColTile], sb[kColRows][kColTile];
  const int64_t j = blockIdx.x * int64_t(kColTile) + threadIdx.x;
  const int64_t r0 = blockIdx.y * rows_per, r1 = min(n, r0 + rows_per);
  float aw = 0, ab = 0;
  if (j < h)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColRows) {
      const float xhat = (ld(x, r * h + j) - (mean ? mean[r] : 0.f)) * rstd[r];
      aw += dy[r * h + j] * xhat;
      ab += dy[r * h + j];
    }
  sw[threadIdx.y][threadIdx.x] = aw;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && j < h) {
    for (int t = 1; t < kColRows; ++t) aw += sw[t][threadIdx.x], ab += sb[t][threadIdx.x];
    part_w[blockIdx.y * h + j] = aw;
    if (part_b) part_b[blockIdx.y * h + j] = ab;
  }
}
__global__ void k_sum_partials(const float* part, int64_t chunks, int64_t h, float* out) {
  GRID_STRIDE(j, h) {
    float s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += part[c * h + j];
    out[j] += s;
  }
}

void norm_backward(const float* dy, const bf16* x, const bf16* gamma, const float* mean,
                   const float* rstd, float* dx, float* dgamma, float* dbeta, int64_t n, int64_t h,
                   Stream s) {
  if (n == 0) return;
  k_norm_backward_dx<<<rows_grid(n), kThreads, 0, s>>>(dy, x, gamma, mean, rstd, dx, h);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
  // A chunk count that depends only on n keeps the summation order fixed.
  const int64_t chunks = std::min<int64_t>((n + 63) / 64, 256),
                rows_per = (n + chunks - 1) / chunks;
  const int64_t per = chunks * h * int64_t(sizeof(float));
  float* part = static_cast<float*>(device_alloc(per * (dbeta ? 2 : 1), s));
  float* part_b = dbeta ? part + chunks * h : nullptr;
  const dim3 grid(static_cast<unsigned>((h + kColTile - 1) / kColTile),
                  static_cast<unsigned>(chunks));
  k_norm_param_partials<<<grid, dim3(kColTile, kColRows), 0, s>>>(dy, x, mean, rstd, n, h, rows_per,
                                                                  part, part_b);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
  k_sum_partials<<<grid_for(h), kThreads, 0, s>>>(part, chunks, h, dgamma);
  if (dbeta) k_sum_partials<<<grid_for(h), kThreads, 0, s>>>(part_b, chunks, h, dbeta);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
  device_free(part, s);
}

// ---------------- activations ----------------
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

__global__ void k_gelu_forward(const bf16* u, bf16* g, int64_t n) {
  GRID_STRIDE(i, n) {
    const float x = ld(u, i);
    st(g, i, 0.5f * x * (1.f + tanhf(kSqrt2OverPi * (x + kGeluCubic * x * x * x))));
  }
}
__global__ void k_gelu_backward(const bf16* dg, const bf16* u, bf16* du, int64_t n) {
  GRID_STRIDE(i, n) {
    const float x = ld(u, i);
    const float t = tanhf(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
    const float dt = kSqrt2OverPi * (1.f + 3.f * kGeluCubic * x * x) * (1.f - t * t);
    st(du, i, ld(dg, i) * (0.5f * (1.f + t) + 0.5f * x * dt));
  }
}
__global__ void k_swiglu_forward(const bf16* gate, const bf16* up, bf16* g, int64_t n) {
  GRID_STRIDE(i, n) {
    const float a = ld(gate, i);
    st(g, i, a / (1.f + expf(-a)) * ld(up, i));
  }
}
__global__ void k_swiglu_backward(const bf16* dg, const bf16* gate, const bf16* up, bf16* dgate,
                                  bf16* dup, int64_t n) {
  GRID_STRIDE(i, n) {
    const float a = ld(gate, i), sg = 1.f / (1.f + expf(-a)), d = ld(dg, i);
    st(dup, i, d * a * sg);
    st(dgate, i, d * ld(up, i) * sg * (1.f + a * (1.f - sg)));
  }
}

// ---------------- embedding ----------------
__global__ void k_embedding_forward(const int32_t* tokens, const bf16* table, int64_t vocab_begin,
                                    int64_t vocab_local, int64_t h, float* out) {
  const int64_t i = blockIdx.x, row = int64_t(tokens[i]) - vocab_begin;
  const bool mine = row >= 0 && row < vocab_local;
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x)
    out[i * h + j] = mine ? ld(table, row * h + j) : 0.f;
}
__global__ void k_embedding_backward(const int32_t* rows, const int32_t* starts,
                                     const int32_t* positions, const float* dout, int64_t h,
                                     float* dtable) {
  const int64_t r = blockIdx.x, row = rows[r];
  for (int64_t j = threadIdx.x; j < h; j += blockDim.x) {
    float s = dtable[row * h + j];
    for (int32_t p = starts[r]; p < starts[r + 1]; ++p) s += dout[int64_t(positions[p]) * h + j];
    dtable[row * h + j] = s;
  }
}

// ---------------- cross-entropy ----------------
__global__ void k_ce_row_max(const float* logits, int64_t v, float* row_max) {
  __shared__ float sh[32];
  const float* row = logits + blockIdx.x * v;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < v; j += blockDim.x) m = fmaxf(m, row[j]);
  m = block_max(m, sh);
  if (threadIdx.x == 0) row_max[blockIdx.x] = m;
}
__global__ void k_ce_sumexp_target(const float* logits, int64_t v, const float* row_max,
                                   const int32_t* targets, int64_t vocab_begin, float* sumexp,
                                   float* target_logit) {
  __shared__ float sh[32];
  const int64_t i = blockIdx.x;
  const float* row = logits + i * v;
  float s = 0;
  for (int64_t j = threadIdx.x; j < v; j += blockDim.x) s += expf(row[j] - row_max[i]);
  s = block_sum(s, sh);
  if (threadIdx.x == 0) {
    sumexp[i] = s;
    const int64_t t = int64_t(targets[i]) - vocab_begin;
    target_logit[i] = (t >= 0 && t < v) ? row[t] : 0.f;
  }
}
__global__ void k_ce_loss_sum(const float* row_max, const float* sumexp, const float* target,
                              int64_t n, double* acc) {
  __shared__ double sh[32];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    s += log(double(sumexp[i])) + double(row_max[i]) - double(target[i]);
  s = block_sum(s, sh);
  if (threadIdx.x == 0) *acc += s;
}
__global__ void k_ce_backward(const float* logits, int64_t v, const float* row_max,
                              const float* sumexp, const int32_t* targets, int64_t vocab_begin,
                              float scale, bf16* dlogits) {
  const int64_t i = blockIdx.x, t = int64_t(targets[i]) - vocab_begin;
  const float m = row_max[i], inv = scale / sumexp[i];
  for (int64_t j = threadIdx.x; j < v; j += blockDim.x)
    st(dlogits, i * v + j, expf(logits[i * v + j] - m) * inv - (j == t ? scale : 0.f));
}

// ---------------- unfused attention's softmax ----------------
__global__ void k_causal_softmax(const float* scores, int64_t S, float scale, bf16* probs) {
  __shared__ float sh[32];
  const int64_t row = blockIdx.x, i = row % S;  // query i sees keys 0..i
  const float* x = scores + row * S;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j <= i; j += blockDim.x) m = fmaxf(m, x[j] * scale);
  m = block_max(m, sh);
  float sum = 0;
  for (int64_t j = threadIdx.x; j <= i; j += blockDim.x) sum += expf(x[j] * scale - m);
  const float inv = 1.f / block_sum(sum, sh);
  for (int64_t j = threadIdx.x; j < S; j += blockDim.x)
    st(probs, row * S + j, j <= i ? expf(x[j] * scale - m) * inv : 0.f);
}
__global__ void k_softmax_backward(const float* dp, const bf16* p, int64_t S, bf16* ds) {
  __shared__ float sh[32];
  const int64_t row = blockIdx.x;
  float dot = 0;
  for (int64_t j = threadIdx.x; j < S; j += blockDim.x) dot += dp[row * S + j] * ld(p, row * S + j);
  dot = block_sum(dot, sh);
  for (int64_t j = threadIdx.x; j < S; j += blockDim.x)
    st(ds, row * S + j, ld(p, row * S + j) * (dp[row * S + j] - dot));
}

// ---------------- optimizer ----------------
__global__ void k_adamw(float* master, const float* grad, float* m, float* v, bf16* param,
                        int64_t n, AdamWStep c) {
  GRID_STRIDE(i, n) {
    const float g = grad[i] * c.clip;
    const float mi = c.beta1 * m[i] + (1.f - c.beta1) * g;
    const float vi = c.beta2 * v[i] + (1.f - c.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = master[i] * c.decay - c.lr * (mi / c.c1) / (sqrtf(vi / c.c2) + c.eps);
    master[i] = p;
    st(param, i, p);
  }
}

constexpr int kSumBlocks = 512;
__global__ void k_sumsq_partials(const float* x, int64_t n, double* part) {
  __shared__ double sh[32];
  double s = 0;
  GRID_STRIDE(i, n) s += double(x[i]) * double(x[i]);
  s = block_sum(s, sh);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}
__global__ void k_sum_doubles(const double* part, int64_t n, double* acc) {
  __shared__ double sh[32];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += part[i];
  s = block_sum(s, sh);
  if (threadIdx.x == 0) *acc += s;
}

// ---------------- initialisation (executor/params.cpp: init_value, global_position) ----------
__device__ uint64_t d_hash64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
__global__ void k_init(InitSlot sl, int64_t first, int64_t count, float* out) {
  GRID_STRIDE(j, count) {
    if (sl.mode != 0) {
      out[j] = sl.mode == 1 ? 1.f : 0.f;
      continue;
    }
    const int64_t i = first + j;
    const int64_t row = i / sl.local_cols + sl.row_offset, col = i % sl.local_cols + sl.col_offset;
    const uint64_t idx = static_cast<uint64_t>(row * sl.cols + col);
    const double u1 = (double(d_hash64(sl.base + 2 * idx) >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = double(d_hash64(sl.base + 2 * idx + 1) >> 11) * 0x1.0p-53;
    out[j] = float(sl.std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
  }
}

}  // namespace

#define LAUNCH_1D(kernel, n, s, ...)                        \
  do {                                                      \
    if ((n) > 0) {                                          \
      kernel<<<grid_for(n), kThreads, 0, s>>>(__VA_ARGS__); \
      SHARDPLAN_CUDA_CHECK_LAUNCH();                        \
    }                                                       \
  } while (0)

void f32_to_bf16(const float* x, bf16* y, int64_t n, Stream s) {
  LAUNCH_1D(k_f32_to_bf16, n, s, x, y, n);
}
void bf16_to_f32(const bf16* x, float* y, int64_t n, Stream s) {
  LAUNCH_1D(k_bf16_to_f32, n, s, x, y, n);
}
void add_f32(float* acc, const float* x, int64_t n, Stream s) {
  LAUNCH_1D(k_add_f32, n, s, acc, x, n);
}
void residual_add(const bf16* x, const float* d, bf16* y, int64_t n, Stream s) {
  LAUNCH_1D(k_residual_add, n, s, x, d, y, n);
}

int64_t dev_type_bytes(DevType t) {
  return t == DevType::f64 ? 8 : t == DevType::f32 ? 4 : 2;
}
void acc_load(void* acc, const void* x, DevType t, int64_t n, Stream s) {
  if (t == DevType::f64)
    LAUNCH_1D(k_acc_load<double>, n, s, static_cast<double*>(acc), x, t, n);
  else
    LAUNCH_1D(k_acc_load<float>, n, s, static_cast<float*>(acc), x, t, n);
}
void acc_reduce(void* acc, const void* x, DevType t, int64_t n, bool max, Stream s) {
  if (t == DevType::f64)
    LAUNCH_1D(k_acc_reduce<double>, n, s, static_cast<double*>(acc), x, t, n, max);
  else
    LAUNCH_1D(k_acc_reduce<float>, n, s, static_cast<float*>(acc), x, t, n, max);
}
void acc_store(const void* acc, void* y, DevType t, int64_t n, Stream s) {
  if (t == DevType::f64)
    LAUNCH_1D(k_acc_store<double>, n, s, static_cast<const double*>(acc), y, t, n);
  else
    LAUNCH_1D(k_acc_store<float>, n, s, static_cast<const float*>(acc), y, t, n);
}

void layernorm_forward(const bf16* x, const bf16* gamma, const bf16* beta, bf16* y, float* mean,
                       float* rstd, int64_t n, int64_t h, Stream s) {
  if (n == 0) return;
  k_layernorm_forward<<<rows_grid(n), kThreads, 0, s>>>(x, gamma, beta, y, mean, rstd, h);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}
void layernorm_backward(const float* dy, const bf16* x, const bf16* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta, int64_t n,
                        int64_t h, Stream s) {
  norm_backward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, n, h, s);
}
void rmsnorm_forward(const bf16* x, const bf16* gamma, bf16* y, float* rstd, int64_t n, int64_t h,
                     Stream s) {
  if (n == 0) return;
  k_rmsnorm_forward<<<rows_grid(n), kThreads, 0, s>>>(x, gamma, y, rstd, h);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}
void rmsnorm_backward(const float* dy, const bf16* x, const bf16* gamma, const float* rstd,
                      float* dx, float* dgamma, int64_t n, int64_t h, Stream s) {
  norm_backward(dy, x, gamma, nullptr, rstd, dx, dgamma, nullptr, n, h, s);
}

void gelu_forward(const bf16* u, bf16* g, int64_t n, Stream s) {
  LAUNCH_1D(k_gelu_forward, n, s, u, g, n);
}
void gelu_backward(const bf16* dg, const bf16* u, bf16* du, int64_t n, Stream s) {
  LAUNCH_1D(k_gelu_backward, n, s, dg, u, du, n);
}
void swiglu_forward(const bf16* gate, const bf16* up, bf16* g, int64_t n, Stream s) {
  LAUNCH_1D(k_swiglu_forward, n, s, gate, up, g, n);
}
void swiglu_backward(const bf16* dg, const bf16* gate, const bf16* up, bf16* dgate, bf16* dup,
                     int64_t n, Stream s) {
  LAUNCH_1D(k_swiglu_backward, n, s, dg, gate, up, dgate, dup, n);
}

void embedding_forward(const int32_t* tokens, int64_t n, const bf16* table, int64_t vocab_begin,
                       int64_t vocab_local, int64_t h, float* out, Stream s) {
  if (n == 0) return;
  k_embedding_forward<<<rows_grid(n), kThreads, 0, s>>>(tokens, table, vocab_begin, vocab_local, h,
                                                        out);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}
void embedding_backward(const int32_t* rows, const int32_t* starts, const int32_t* positions,
                        int64_t nrows, const float* dout, int64_t h, float* dtable, Stream s) {
  if (nrows == 0) return;
  k_embedding_backward<<<rows_grid(nrows), kThreads, 0, s>>>(rows, starts, positions, dout, h,
                                                             dtable);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}

void ce_row_max(const float* logits, int64_t n, int64_t v, float* row_max, Stream s) {
  if (n == 0) return;
  k_ce_row_max<<<rows_grid(n), kThreads, 0, s>>>(logits, v, row_max);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}
void ce_sumexp_target(const float* logits, int64_t n, int64_t v, const float* row_max,
                      const int32_t* targets, int64_t vocab_begin, float* sumexp,
                      float* target_logit, Stream s) {
  if (n == 0) return;
  k_ce_sumexp_target<<<rows_grid(n), kThreads, 0, s>>>(logits, v, row_max, targets, vocab_begin,
                                                       sumexp, target_logit);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}
void ce_loss_sum(const float* row_max, const float* sumexp, const float* target_logit, int64_t n,
                 double* acc, Stream s) {
  k_ce_loss_sum<<<1, 1024, 0, s>>>(row_max, sumexp, target_logit, n, acc);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}
void ce_backward(const float* logits, int64_t n, int64_t v, const float* row_max,
                 const float* sumexp, const int32_t* targets, int64_t vocab_begin, float scale,
                 bf16* dlogits, Stream s) {
  if (n == 0) return;
  k_ce_backward<<<rows_grid(n), kThreads, 0, s>>>(logits, v, row_max, sumexp, targets, vocab_begin,
                                                  scale, dlogits);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}

void causal_softmax_forward(const float* scores, int64_t rows, int64_t S, float scale, bf16* probs,
                            Stream s) {
  if (rows == 0) return;
  k_causal_softmax<<<rows_grid(rows), kThreads, 0, s>>>(scores, S, scale, probs);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}
void softmax_backward(const float* dprobs, const bf16* probs, int64_t rows, int64_t S, bf16* ds,
                      Stream s) {
  if (rows == 0) return;
  k_softmax_backward<<<rows_grid(rows), kThreads, 0, s>>>(dprobs, probs, S, ds);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}

void adamw_update(float* master, const float* grad, float* m, float* v, bf16* param, int64_t n,
                  const AdamWStep& c, Stream s) {
  LAUNCH_1D(k_adamw, n, s, master, grad, m, v, param, n, c);
}

void sum_squares(const float* x, int64_t n, double* acc, Stream s) {
  if (n == 0) return;
  // The block count depends only on n, so the summation order is fixed.
  const int64_t blocks = std::min<int64_t>(kSumBlocks, (n + kThreads - 1) / kThreads);
  double* part = static_cast<double*>(device_alloc(blocks * int64_t(sizeof(double)), s));
  k_sumsq_partials<<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(x, n, part);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
  k_sum_doubles<<<1, kThreads, 0, s>>>(part, blocks, acc);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
  device_free(part, s);
}

void init_slot(const InitSlot& slot, int64_t first, int64_t count, float* out, Stream s) {
  LAUNCH_1D(k_init, count, s, slot, first, count, out);
}

}  // namespace shardplan::executor::cuda
