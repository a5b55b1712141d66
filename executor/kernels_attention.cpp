// Causal (GQA) attention core, forward and backward, one (sequence, head) at a time via gemm().
// Per head: P = softmax(mask(Q·Kᵀ/√d)), O = P·V;
// backward: dP = dO·Vᵀ, dS = P⊙(dP - rowsum(dP⊙P)), dQ = dS·K/√d, dK = dSᵀ·Q/√d, dV = Pᵀ·dO.
#include <algorithm>
#include <cmath>
#include <vector>

#include "executor/gemm.hpp"
#include "executor/kernels.hpp"

namespace shardplan::executor {

namespace {
struct HeadView {  // where head (b, h) lives in the packed [batch·seq, heads·d] tensors
  int64_t q_off, kv_off, ldq, ldkv, p_off;
};
HeadView head_view(const AttnShape& s, int64_t b, int64_t h) {
  const int64_t group = s.q_heads / s.kv_heads;
  HeadView v;
  v.ldq = s.q_heads * s.head_dim;
  v.ldkv = s.kv_heads * s.head_dim;
  v.q_off = b * s.seq * v.ldq + h * s.head_dim;
  v.kv_off = b * s.seq * v.ldkv + (h / group) * s.head_dim;
  v.p_off = (b * s.q_heads + h) * s.seq * s.seq;
  return v;
}
}  // namespace

template <class T>
void attention_probs(const AttnShape& s, const T* q, const T* k, T* probs) {
  const T scale = T(1) / std::sqrt(T(s.head_dim));
  const int64_t S = s.seq;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.q_heads; ++h) {
      const HeadView hv = head_view(s, b, h);
      T* p = probs + hv.p_off;
      gemm<T>(false, true, S, S, s.head_dim, scale, q + hv.q_off, hv.ldq, k + hv.kv_off, hv.ldkv,
              T(0), p, S);
      for (int64_t i = 0; i < S; ++i) {
        T* row = p + i * S;
        const T mx = *std::max_element(row, row + i + 1);
        T sum = 0;
        for (int64_t j = 0; j <= i; ++j) sum += row[j] = std::exp(row[j] - mx);
        for (int64_t j = 0; j <= i; ++j) row[j] /= sum;
        for (int64_t j = i + 1; j < S; ++j) row[j] = 0;  // causal mask
      }
    }
}

template <class T>
void attention_forward(const AttnShape& s, const T* q, const T* k, const T* v, T* probs, T* out) {
  attention_probs(s, q, k, probs);
  const int64_t S = s.seq;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.q_heads; ++h) {
      const HeadView hv = head_view(s, b, h);
      gemm<T>(false, false, S, s.head_dim, S, T(1), probs + hv.p_off, S, v + hv.kv_off, hv.ldkv,
              T(0), out + hv.q_off, hv.ldq);
    }
}

template <class T>
void attention_backward(const AttnShape& s, const T* q, const T* k, const T* v, const T* probs,
                        const T* dout, T* dq, T* dk, T* dv) {
  const T scale = T(1) / std::sqrt(T(s.head_dim));
  const int64_t S = s.seq;
  std::fill(dk, dk + s.batch * S * s.kv_heads * s.head_dim, T(0));
  std::fill(dv, dv + s.batch * S * s.kv_heads * s.head_dim, T(0));
  std::vector<T> ds(static_cast<size_t>(S * S));  // scratch: dP, then dS
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.q_heads; ++h) {
      const HeadView hv = head_view(s, b, h);
      const T* p = probs + hv.p_off;
      gemm<T>(false, true, S, S, s.head_dim, T(1), dout + hv.q_off, hv.ldq, v + hv.kv_off,
              hv.ldkv, T(0), ds.data(), S);
      for (int64_t i = 0; i < S; ++i) {
        T* row = ds.data() + i * S;
        T dot = 0;
        for (int64_t j = 0; j <= i; ++j) dot += row[j] * p[i * S + j];
        for (int64_t j = 0; j <= i; ++j) row[j] = p[i * S + j] * (row[j] - dot);
        for (int64_t j = i + 1; j < S; ++j) row[j] = 0;
      }
      gemm<T>(false, false, S, s.head_dim, S, scale, ds.data(), S, k + hv.kv_off, hv.ldkv, T(0),
              dq + hv.q_off, hv.ldq);
      gemm<T>(true, false, S, s.head_dim, S, scale, ds.data(), S, q + hv.q_off, hv.ldq, T(1),
              dk + hv.kv_off, hv.ldkv);
      gemm<T>(true, false, S, s.head_dim, S, T(1), p, S, dout + hv.q_off, hv.ldq, T(1),
              dv + hv.kv_off, hv.ldkv);
    }
}

#define SHARDPLAN_INSTANTIATE(T)                                                              \
  template void attention_probs<T>(const AttnShape&, const T*, const T*, T*);               \
  template void attention_forward<T>(const AttnShape&, const T*, const T*, const T*, T*, T*); \
  template void attention_backward<T>(const AttnShape&, const T*, const T*, const T*,       \
                                      const T*, const T*, T*, T*, T*);
SHARDPLAN_INSTANTIATE(float)
SHARDPLAN_INSTANTIATE(double)
#undef SHARDPLAN_INSTANTIATE

}  // namespace shardplan::executor
