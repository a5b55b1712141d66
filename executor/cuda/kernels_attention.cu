// Fused causal GQA attention, FlashAttention-2's algorithm (Dao 2023, arXiv:2307.08691, Alg. 1
// and 2) written plainly for correctness: CUDA cores, float accumulation, bf16 tiles of K/V (or
// Q/dO) in shared memory, 8 threads per query (or key) row, each owning head_dim/8 interleaved
// dimensions. Forward keeps the per-row log-sum-exp; backward recomputes the probabilities from
// it, with dK/dV and dQ in two kernels so nothing is accumulated with atomics.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "executor/cuda/check.hpp"
#include "executor/cuda/kernels.hpp"

namespace shardplan::executor::cuda {

namespace {

constexpr int kTpr = 8;                 // threads per row
constexpr int kRows = 16;               // rows (queries or keys) per block
constexpr int kThreads = kTpr * kRows;  // 128
constexpr int kTile = 32;               // rows of the streamed operand per shared-memory tile
constexpr int kMaxHeadDim =
    16 * kTpr;  // two instantiations (head_dim <= 32, <= 128) keep nvcc fast
constexpr float kLog2e = 1.4426950408889634f;
// Two bf16 tiles of kTile rows of head_dim are the dynamic shared memory of every kernel; past
// 48 KiB a launch needs cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize).
static_assert(2 * kTile * kMaxHeadDim * 2 <= 48 * 1024, "tiles exceed the default shared memory");

__device__ __forceinline__ float ld(const bf16* p, int64_t i) {
  return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(p)[i]);
}
__device__ __forceinline__ void st(bf16* p, int64_t i, float v) {
  reinterpret_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v);
}
// Sum over the 8 threads of a row (aligned groups of 8 lanes).
__device__ __forceinline__ float row_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 4, kTpr);
  v += __shfl_xor_sync(0xffffffffu, v, 2, kTpr);
  v += __shfl_xor_sync(0xffffffffu, v, 1, kTpr);
  return v;
}

struct Geo {  // AttnShape with the strides of the packed tensors
  int64_t B, S, QH, KH, D, group, ldq, ldkv;
  float scale;  // 1/sqrt(D)
};

// Copies rows [r0, r0 + kTile) of head column block `col` of x [B·S, ld] (batch b) into
// sm [kTile][D]; rows past S are zero. The tile index is 32-bit (kTile·D <= 4096): a 64-bit
// division per element would cost more than the tile's arithmetic.
__device__ void load_tile(const bf16* x, int64_t ld_, int64_t b, int64_t S, int64_t col, int64_t r0,
                          int D, bf16* sm) {
  for (int e = threadIdx.x; e < kTile * D; e += blockDim.x) {
    const int r = e / D, c = e % D;
    const int64_t row = r0 + r;
    sm[e] = row < S ? x[(b * S + row) * ld_ + col + c] : bf16{};
  }
}
__device__ __forceinline__ float sld(const bf16* sm, int64_t i) {
  return ld(sm, i);
}

// ---- forward: block = kRows queries of one (batch, query head) ----
template <int MAXPER>
__global__ void k_flash_fwd(Geo g, const bf16* q, const bf16* k, const bf16* v, bf16* out,
                            float* lse) {
  extern __shared__ unsigned char smem_raw[];
  bf16* smem = reinterpret_cast<bf16*>(smem_raw);
  bf16* sk = smem;
  bf16* sv = smem + kTile * g.D;
  const int64_t bh = blockIdx.y, b = bh / g.QH, h = bh % g.QH, kvh = h / g.group;
  const int r = threadIdx.x / kTpr, t = threadIdx.x % kTpr;
  const int64_t i_raw = int64_t(blockIdx.x) * kRows + r;
  const bool active = i_raw < g.S;
  const int64_t i =
      active ? i_raw : g.S - 1;  // inactive rows compute on a valid row, write nothing
  const int per = int(g.D / kTpr);
  const float qs = g.scale * kLog2e;  // scores in log2 units: exp2 below
  float qr[MAXPER], o[MAXPER];
#pragma unroll
  for (int e = 0; e < MAXPER; ++e) {
    qr[e] = e < per ? ld(q, (b * g.S + i) * g.ldq + h * g.D + e * kTpr + t) * qs : 0.f;
    o[e] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  const int64_t last = min(g.S - 1, int64_t(blockIdx.x) * kRows + kRows - 1);
  for (int64_t k0 = 0; k0 <= last; k0 += kTile) {
    __syncthreads();
    load_tile(k, g.ldkv, b, g.S, kvh * g.D, k0, int(g.D), sk);
    load_tile(v, g.ldkv, b, g.S, kvh * g.D, k0, int(g.D), sv);
    __syncthreads();
    float s[kTile];
    float tmax = -INFINITY;
#pragma unroll
    for (int j = 0; j < kTile; ++j) {  // unrolled: s[] stays in registers
      float d = 0.f;
#pragma unroll
      for (int e = 0; e < MAXPER; ++e)
        if (e < per) d += qr[e] * sld(sk, j * g.D + e * kTpr + t);
      d = row_sum(d);
      s[j] = (k0 + j <= i) ? d : -INFINITY;  // causal mask (and keys past S, as k0+j > i)
      tmax = fmaxf(tmax, s[j]);
    }
    const float m_new = fmaxf(m, tmax);  // finite: key 0 is visible to every query
    const float alpha = exp2f(m - m_new);
    l *= alpha;
#pragma unroll
    for (int e = 0; e < MAXPER; ++e) o[e] *= alpha;
#pragma unroll
    for (int j = 0; j < kTile; ++j) {
      const float p = exp2f(s[j] - m_new);
      l += p;
#pragma unroll
      for (int e = 0; e < MAXPER; ++e)
        if (e < per) o[e] += p * sld(sv, j * g.D + e * kTpr + t);
    }
    m = m_new;
  }
  if (!active) return;
  const float inv = 1.f / l;
#pragma unroll
  for (int e = 0; e < MAXPER; ++e)
    if (e < per) st(out, (b * g.S + i) * g.ldq + h * g.D + e * kTpr + t, o[e] * inv);
  if (t == 0) lse[(b * g.QH + h) * g.S + i] = (m + log2f(l)) / kLog2e;
}

// ---- backward preprocessing: delta[b, h, i] = Σ_d dO·O (one warp per (token, head)) ----
__global__ void k_flash_delta(Geo g, const bf16* out, const bf16* dout, float* delta) {
  const int64_t w = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (w >= g.B * g.S * g.QH) return;  // whole warps leave together
  const int64_t row = w / g.QH, h = w % g.QH, b = row / g.S, i = row % g.S;
  float s = 0.f;
  for (int64_t d = lane; d < g.D; d += 32) {
    const int64_t at = row * g.ldq + h * g.D + d;
    s += ld(out, at) * ld(dout, at);
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) delta[(b * g.QH + h) * g.S + i] = s;
}

// ---- backward dK, dV: block = kRows keys of one (batch, kv head); loops over the query heads
// of its group and the query tiles at or after its first key ----
template <int MAXPER>
__global__ void k_flash_bwd_dkdv(Geo g, const bf16* q, const bf16* k, const bf16* v,
                                 const bf16* dout, const float* lse, const float* delta, bf16* dk,
                                 bf16* dv) {
  extern __shared__ unsigned char smem_raw[];
  bf16* smem = reinterpret_cast<bf16*>(smem_raw);
  bf16* sq = smem;
  bf16* sdo = smem + kTile * g.D;
  __shared__ float s_lse[kTile], s_delta[kTile];
  const int64_t bk = blockIdx.y, b = bk / g.KH, kvh = bk % g.KH;
  const int r = threadIdx.x / kTpr, t = threadIdx.x % kTpr;
  const int64_t j_raw = int64_t(blockIdx.x) * kRows + r;
  const bool active = j_raw < g.S;
  const int64_t j = active ? j_raw : g.S - 1;
  const int per = int(g.D / kTpr);
  float kr[MAXPER], vr[MAXPER], dkr[MAXPER], dvr[MAXPER];
#pragma unroll
  for (int e = 0; e < MAXPER; ++e) {
    const int64_t at = (b * g.S + j) * g.ldkv + kvh * g.D + e * kTpr + t;
    kr[e] = e < per ? ld(k, at) : 0.f;
    vr[e] = e < per ? ld(v, at) : 0.f;
    dkr[e] = dvr[e] = 0.f;
  }
  const int64_t first_q = int64_t(blockIdx.x) * kRows;  // earlier queries see none of these keys
  for (int64_t hq = kvh * g.group; hq < (kvh + 1) * g.group; ++hq)
    for (int64_t q0 = first_q - first_q % kTile; q0 < g.S; q0 += kTile) {
      __syncthreads();
      load_tile(q, g.ldq, b, g.S, hq * g.D, q0, int(g.D), sq);
      load_tile(dout, g.ldq, b, g.S, hq * g.D, q0, int(g.D), sdo);
      for (int x = threadIdx.x; x < kTile; x += blockDim.x) {
        const bool in = q0 + x < g.S;
        s_lse[x] = in ? lse[(b * g.QH + hq) * g.S + q0 + x] * kLog2e : 0.f;
        s_delta[x] = in ? delta[(b * g.QH + hq) * g.S + q0 + x] : 0.f;
      }
      __syncthreads();
#pragma unroll 2
      for (int x = 0; x < kTile; ++x) {
        const int64_t i = q0 + x;
        float sdot = 0.f, pdot = 0.f;
#pragma unroll
        for (int e = 0; e < MAXPER; ++e)
          if (e < per) {
            sdot += sld(sq, x * g.D + e * kTpr + t) * kr[e];
            pdot += sld(sdo, x * g.D + e * kTpr + t) * vr[e];
          }
        sdot = row_sum(sdot);
        pdot = row_sum(pdot);
        const bool visible = i < g.S && j <= i;
        const float p = visible ? exp2f(sdot * g.scale * kLog2e - s_lse[x]) : 0.f;
        const float ds = p * (pdot - s_delta[x]);
#pragma unroll
        for (int e = 0; e < MAXPER; ++e)
          if (e < per) {
            dvr[e] += p * sld(sdo, x * g.D + e * kTpr + t);
            dkr[e] += ds * sld(sq, x * g.D + e * kTpr + t);
          }
      }
    }
  if (!active) return;
#pragma unroll
  for (int e = 0; e < MAXPER; ++e)
    if (e < per) {
      const int64_t at = (b * g.S + j) * g.ldkv + kvh * g.D + e * kTpr + t;
      st(dk, at, dkr[e] * g.scale);
      st(dv, at, dvr[e]);
    }
}

// ---- backward dQ: block = kRows queries of one (batch, query head) ----
template <int MAXPER>
__global__ void k_flash_bwd_dq(Geo g, const bf16* q, const bf16* k, const bf16* v, const bf16* dout,
                               const float* lse, const float* delta, bf16* dq) {
  extern __shared__ unsigned char smem_raw[];
  bf16* smem = reinterpret_cast<bf16*>(smem_raw);
  bf16* sk = smem;
  bf16* sv = smem + kTile * g.D;
  const int64_t bh = blockIdx.y, b = bh / g.QH, h = bh % g.QH, kvh = h / g.group;
  const int r = threadIdx.x / kTpr, t = threadIdx.x % kTpr;
  const int64_t i_raw = int64_t(blockIdx.x) * kRows + r;
  const bool active = i_raw < g.S;
  const int64_t i = active ? i_raw : g.S - 1;
  const int per = int(g.D / kTpr);
  float qr[MAXPER], dor[MAXPER], dqr[MAXPER];
#pragma unroll
  for (int e = 0; e < MAXPER; ++e) {
    const int64_t at = (b * g.S + i) * g.ldq + h * g.D + e * kTpr + t;
    qr[e] = e < per ? ld(q, at) : 0.f;
    dor[e] = e < per ? ld(dout, at) : 0.f;
    dqr[e] = 0.f;
  }
  const float lse2 = lse[(b * g.QH + h) * g.S + i] * kLog2e;
  const float di = delta[(b * g.QH + h) * g.S + i];
  const int64_t last = min(g.S - 1, int64_t(blockIdx.x) * kRows + kRows - 1);
  for (int64_t k0 = 0; k0 <= last; k0 += kTile) {
    __syncthreads();
    load_tile(k, g.ldkv, b, g.S, kvh * g.D, k0, int(g.D), sk);
    load_tile(v, g.ldkv, b, g.S, kvh * g.D, k0, int(g.D), sv);
    __syncthreads();
#pragma unroll 2
    for (int x = 0; x < kTile; ++x) {
      float sdot = 0.f, pdot = 0.f;
#pragma unroll
      for (int e = 0; e < MAXPER; ++e)
        if (e < per) {
          sdot += qr[e] * sld(sk, x * g.D + e * kTpr + t);
          pdot += dor[e] * sld(sv, x * g.D + e * kTpr + t);
        }
      sdot = row_sum(sdot);
      pdot = row_sum(pdot);
      const float p = (k0 + x <= i) ? exp2f(sdot * g.scale * kLog2e - lse2) : 0.f;
      const float ds = p * (pdot - di);
#pragma unroll
      for (int e = 0; e < MAXPER; ++e)
        if (e < per) dqr[e] += ds * sld(sk, x * g.D + e * kTpr + t);
    }
  }
  if (!active) return;
#pragma unroll
  for (int e = 0; e < MAXPER; ++e)
    if (e < per) st(dq, (b * g.S + i) * g.ldq + h * g.D + e * kTpr + t, dqr[e] * g.scale);
}

Geo geometry(const AttnShape& s) {
  if (s.head_dim % kTpr != 0 || s.head_dim > kMaxHeadDim || s.head_dim < kTpr)
    throw std::invalid_argument(
        "flash attention: head_dim must be a multiple of 8 in [8, 128], got " +
        std::to_string(s.head_dim));
  if (s.kv_heads < 1 || s.q_heads % s.kv_heads != 0)
    throw std::invalid_argument("flash attention: kv_heads must divide q_heads");
  Geo g;
  g.B = s.batch, g.S = s.seq, g.QH = s.q_heads, g.KH = s.kv_heads, g.D = s.head_dim;
  g.group = s.q_heads / s.kv_heads;
  g.ldq = s.q_heads * s.head_dim;
  g.ldkv = s.kv_heads * s.head_dim;
  g.scale = 1.f / std::sqrt(float(s.head_dim));
  return g;
}

// Runs launch(kernel instantiation) with the smallest MAXPER that holds head_dim/8 dims.
template <class F>
void dispatch_per(int64_t D, F&& launch) {
  const int64_t per = D / kTpr;
  if (per <= 4)
    launch(std::integral_constant<int, 4>());
  else
    launch(std::integral_constant<int, 16>());
}

unsigned row_blocks(int64_t S) {
  return static_cast<unsigned>((S + kRows - 1) / kRows);
}

// gridDim.y (one block row per (batch, head)) is limited to 65535 by the hardware; a launch past
// it fails with "invalid configuration argument", so say which shape did it instead.
unsigned head_blocks(int64_t batch_heads) {
  constexpr int64_t kMaxGridY = 65535;
  if (batch_heads > kMaxGridY)
    throw std::invalid_argument("flash attention: batch x heads = " + std::to_string(batch_heads) +
                                " exceeds the grid's 65535 blocks in y; use a smaller micro-batch");
  return static_cast<unsigned>(batch_heads);
}

}  // namespace

void flash_attention_forward(const AttnShape& sh, const bf16* q, const bf16* k, const bf16* v,
                             bf16* out, float* lse, Stream s) {
  const Geo g = geometry(sh);
  if (g.B * g.S == 0) return;
  const size_t smem = size_t(2 * kTile * g.D) * sizeof(bf16);
  const dim3 grid(row_blocks(g.S), head_blocks(g.B * g.QH));
  dispatch_per(g.D, [&](auto per) {
    k_flash_fwd<decltype(per)::value><<<grid, kThreads, smem, s>>>(g, q, k, v, out, lse);
  });
  SHARDPLAN_CUDA_CHECK_LAUNCH();
}

void flash_attention_backward(const AttnShape& sh, const bf16* q, const bf16* k, const bf16* v,
                              const bf16* out, const bf16* dout, const float* lse, bf16* dq,
                              bf16* dk, bf16* dv, Stream s) {
  const Geo g = geometry(sh);
  if (g.B * g.S == 0) return;
  const dim3 grid_kv(row_blocks(g.S), head_blocks(g.B * g.KH)),
      grid_q(row_blocks(g.S), head_blocks(g.B * g.QH));  // checked before anything is allocated
  const int64_t rows = g.B * g.QH * g.S;
  float* delta = static_cast<float*>(device_alloc(rows * int64_t(sizeof(float)), s));
  const int64_t warps = g.B * g.S * g.QH;
  k_flash_delta<<<static_cast<unsigned>((warps * 32 + 255) / 256), 256, 0, s>>>(g, out, dout,
                                                                                delta);
  SHARDPLAN_CUDA_CHECK_LAUNCH();
  const size_t smem = size_t(2 * kTile * g.D) * sizeof(bf16);
  dispatch_per(g.D, [&](auto per) {
    constexpr int P = decltype(per)::value;
    k_flash_bwd_dkdv<P><<<grid_kv, kThreads, smem, s>>>(g, q, k, v, dout, lse, delta, dk, dv);
    k_flash_bwd_dq<P><<<grid_q, kThreads, smem, s>>>(g, q, k, v, dout, lse, delta, dq);
  });
  SHARDPLAN_CUDA_CHECK_LAUNCH();
  device_free(delta, s);
}

}  // namespace shardplan::executor::cuda
