// Single-device math of the decoder: norms, activations, causal attention, embedding lookup and
// the pieces of a vocab-parallel cross-entropy. Plain loops and gemm(); no communication.
// Tensors are row-major; `x [n, h]` means n rows (tokens) of h values. Backward functions ADD
// into their gradient outputs unless stated otherwise.
#pragma once
#include <cstdint>

namespace shardplan::executor {

inline constexpr double kNormEps = 1e-5;

// LayerNorm: y = (x - mean)·rstd·gamma + beta; saves mean, rstd [n].
template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd,
                       int64_t n, int64_t h);
template <class T>
void layernorm_backward(const T* dy, const T* x, const T* gamma, const T* mean, const T* rstd,
                        T* dx, T* dgamma, T* dbeta, int64_t n, int64_t h);
// RMSNorm: y = x·rstd·gamma, rstd = 1/sqrt(mean(x²) + eps); saves rstd [n].
template <class T>
void rmsnorm_forward(const T* x, const T* gamma, T* y, T* rstd, int64_t n, int64_t h);
template <class T>
void rmsnorm_backward(const T* dy, const T* x, const T* gamma, const T* rstd, T* dx, T* dgamma,
                      int64_t n, int64_t h);

// GELU, tanh approximation (GPT-2): g = 0.5u(1 + tanh(√(2/π)(u + 0.044715u³))).
template <class T> void gelu_forward(const T* u, T* g, int64_t n);
template <class T> void gelu_backward(const T* dg, const T* u, T* du, int64_t n);  // du = (overwrite)
// SwiGLU: g = silu(gate)·up, silu(x) = x·σ(x).
template <class T> void swiglu_forward(const T* gate, const T* up, T* g, int64_t n);
template <class T>
void swiglu_backward(const T* dg, const T* gate, const T* up, T* dgate, T* dup, int64_t n);  // overwrite

// Causal self-attention over local heads, GQA: query head h reads kv head h / (q_heads/kv_heads).
// q, out: [batch·seq, q_heads·head_dim]; k, v: [batch·seq, kv_heads·head_dim];
// probs: [batch, q_heads, seq, seq] (softmax of the scaled, masked scores).
struct AttnShape {
  int64_t batch = 1, seq = 1, q_heads = 1, kv_heads = 1, head_dim = 1;
};
template <class T>
void attention_probs(const AttnShape& s, const T* q, const T* k, T* probs);
template <class T>
void attention_forward(const AttnShape& s, const T* q, const T* k, const T* v, T* probs, T* out);
// dq, dk, dv are overwritten.
template <class T>
void attention_backward(const AttnShape& s, const T* q, const T* k, const T* v, const T* probs,
                        const T* dout, T* dq, T* dk, T* dv);

// Vocab-parallel embedding: this rank holds rows [vocab_begin, vocab_begin + vocab_local) of
// the table [vocab, h]; tokens outside give zero rows (the TP reduction fills them in).
template <class T>
void embedding_forward(const int32_t* tokens, int64_t n, const T* table, int64_t vocab_begin,
                       int64_t vocab_local, int64_t h, T* out);
template <class T>
void embedding_backward(const int32_t* tokens, int64_t n, const T* dout, int64_t vocab_begin,
                        int64_t vocab_local, int64_t h, T* dtable);

// Vocab-parallel cross-entropy over local logits [n, v] (columns vocab_begin..+v):
// 1) row_max -> all-reduce max; 2) sumexp + target logit -> all-reduce sum;
// 3) loss_i = log(sumexp) + max - target; 4) ce_backward turns logits into
//    dlogits = (softmax - onehot)·scale in place.
template <class T> void ce_row_max(const T* logits, int64_t n, int64_t v, T* row_max);
template <class T>
void ce_sumexp_target(const T* logits, int64_t n, int64_t v, const T* row_max,
                      const int32_t* targets, int64_t vocab_begin, T* sumexp, T* target_logit);
template <class T>
void ce_backward(T* logits, int64_t n, int64_t v, const T* row_max, const T* sumexp,
                 const int32_t* targets, int64_t vocab_begin, T scale);

}  // namespace shardplan::executor
