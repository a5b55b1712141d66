// Unfused attention (attention.hpp). Head h of batch b reads kv head g = h / group; with
// h = g·group + j, the heads sharing one j form a strided batch over g, so each GEMM is one
// strided-batched call per (b, j). Float scratch holds one batch element's scores at a time.
#include "executor/cuda/attention.hpp"

#include <cmath>

#include "executor/cuda/kernels.hpp"

namespace shardplan::executor::cuda {

namespace {
struct Geo {
  int64_t B, S, QH, KH, D, group, ldq, ldkv, SS;
};
Geo geo(const AttnShape& s) {
  return {s.batch,
          s.seq,
          s.q_heads,
          s.kv_heads,
          s.head_dim,
          s.q_heads / s.kv_heads,
          s.q_heads * s.head_dim,
          s.kv_heads * s.head_dim,
          s.seq * s.seq};
}
// Where head (b, h = g·group + j) starts, for g = 0; the batch stride over g is in the calls.
int64_t q_at(const Geo& g, int64_t b, int64_t j) {
  return b * g.S * g.ldq + j * g.D;
}
int64_t kv_at(const Geo& g, int64_t b) {
  return b * g.S * g.ldkv;
}
int64_t p_at(const Geo& g, int64_t b, int64_t j) {
  return (b * g.QH + j) * g.SS;
}
}  // namespace

void attention_probs(Blas& bl, MemoryTracker& mem, const AttnShape& s, const bf16* q, const bf16* k,
                     bf16* probs) {
  const Geo g = geo(s);
  const float scale = 1.f / std::sqrt(float(g.D));
  DevBuf<float> scores(mem, MemCategory::temporaries, g.QH * g.SS, bl.stream(), false);
  for (int64_t b = 0; b < g.B; ++b) {
    for (int64_t j = 0; j < g.group; ++j)  // scores[h] = q_h·k_gᵀ; scores holds batch b's heads
      gemm_strided_batched(bl, false, true, g.S, g.S, g.D, 1.f, q + q_at(g, b, j), g.ldq,
                           g.group * g.D, k + kv_at(g, b), g.ldkv, g.D, 0.f,
                           scores.data() + j * g.SS, OutType::f32, g.S, g.group * g.SS, g.KH);
    causal_softmax_forward(scores.data(), g.QH * g.S, g.S, scale, probs + p_at(g, b, 0),
                           bl.stream());
  }
}

void unfused_attention_forward(Blas& bl, MemoryTracker& mem, const AttnShape& s, const bf16* q,
                               const bf16* k, const bf16* v, bf16* probs, bf16* out) {
  const Geo g = geo(s);
  attention_probs(bl, mem, s, q, k, probs);
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t j = 0; j < g.group; ++j)  // out_h = P_h·v_g
      gemm_strided_batched(bl, false, false, g.S, g.D, g.S, 1.f, probs + p_at(g, b, j), g.S,
                           g.group * g.SS, v + kv_at(g, b), g.ldkv, g.D, 0.f, out + q_at(g, b, j),
                           OutType::bf16, g.ldq, g.group * g.D, g.KH);
}

void unfused_attention_backward(Blas& bl, MemoryTracker& mem, const AttnShape& s, const bf16* q,
                                const bf16* k, const bf16* v, const bf16* probs, const bf16* dout,
                                bf16* dq, bf16* dk, bf16* dv) {
  const Geo g = geo(s);
  const Stream st = bl.stream();
  const float scale = 1.f / std::sqrt(float(g.D));
  DevBuf<float> dp(mem, MemCategory::temporaries, g.QH * g.SS, st, false);
  DevBuf<bf16> ds(mem, MemCategory::temporaries, g.QH * g.SS, st, false);
  DevBuf<float> dk32(mem, MemCategory::temporaries, g.B * g.S * g.ldkv, st, false);
  DevBuf<float> dv32(mem, MemCategory::temporaries, g.B * g.S * g.ldkv, st, false);
  for (int64_t b = 0; b < g.B; ++b) {
    const bf16* p = probs + p_at(g, b, 0);
    for (int64_t j = 0; j < g.group; ++j) {  // dP_h = dO_h·v_gᵀ; dv_g (+)= P_hᵀ·dO_h
      gemm_strided_batched(bl, false, true, g.S, g.S, g.D, 1.f, dout + q_at(g, b, j), g.ldq,
                           g.group * g.D, v + kv_at(g, b), g.ldkv, g.D, 0.f, dp.data() + j * g.SS,
                           OutType::f32, g.S, g.group * g.SS, g.KH);
      gemm_strided_batched(bl, true, false, g.S, g.D, g.S, 1.f, p + j * g.SS, g.S, g.group * g.SS,
                           dout + q_at(g, b, j), g.ldq, g.group * g.D, j == 0 ? 0.f : 1.f,
                           dv32.data() + kv_at(g, b), OutType::f32, g.ldkv, g.D, g.KH);
    }
    softmax_backward(dp.data(), p, g.QH * g.S, g.S, ds.data(), st);
    for (int64_t j = 0; j < g.group; ++j) {  // dq_h = dS_h·k_g/√d; dk_g (+)= dS_hᵀ·q_h/√d
      gemm_strided_batched(bl, false, false, g.S, g.D, g.S, scale, ds.data() + j * g.SS, g.S,
                           g.group * g.SS, k + kv_at(g, b), g.ldkv, g.D, 0.f, dq + q_at(g, b, j),
                           OutType::bf16, g.ldq, g.group * g.D, g.KH);
      gemm_strided_batched(bl, true, false, g.S, g.D, g.S, scale, ds.data() + j * g.SS, g.S,
                           g.group * g.SS, q + q_at(g, b, j), g.ldq, g.group * g.D,
                           j == 0 ? 0.f : 1.f, dk32.data() + kv_at(g, b), OutType::f32, g.ldkv, g.D,
                           g.KH);
    }
  }
  f32_to_bf16(dk32.data(), dk, dk32.size(), st);
  f32_to_bf16(dv32.data(), dv, dv32.size(), st);
}

}  // namespace shardplan::executor::cuda
