// One pre-norm transformer block on one rank, Megatron-style TP:
//   x2 = x + reduce(attn(gather(norm1(x))·[Wq|Wk|Wv]ᶜᵒˡ)·Woʳᵒʷ)
//   y  = x2 + reduce(act(gather(norm2(x2))·W1ᶜᵒˡ[, ·W3ᶜᵒˡ])·W2ʳᵒʷ)
// (gather/reduce: tp_gather/tp_reduce of layer_env.hpp). Recompute: none keeps every
// intermediate; selective drops the attention probabilities and recomputes them in backward;
// full keeps only x and recomputes the whole block (with its communication) in backward.
#pragma once
#include "executor/layer_env.hpp"
#include "executor/unit.hpp"

namespace shardplan::executor {

template <class T>
struct BlockCtx {  // what one block keeps between forward and backward, per micro-batch
  Buffer<T> x;                    // input [tokens_local, H], kept in every mode
  bool complete = false;          // the intermediates below are present
  Buffer<T> h1, mean1, rstd1;     // norm1 output [tokens_local, H], stats [tokens_local]
  Buffer<T> q, k, v, probs, o;    // [tokens, q_local|kv_local]; probs [mbs, heads_l, S, S]
  Buffer<T> x2, h2, mean2, rstd2; // after attention
  Buffer<T> u1, u3, g;            // MLP pre-activations and activation [tokens, ffn_local]
  // Kept for the weight pass when weight grads are split off (zero-bubble):
  Buffer<T> a_full, b_full;       // gathered norm outputs [tokens, H] (SP)
  Buffer<T> d_attn_out, dq, dk, dv, d_mlp_out, du1, du3;
  Buffer<T> dln1w, dln1b, dln2w, dln2b;  // norm parameter grads [H]
};

// Runs the block on x [tokens_local, H]; returns y [tokens_local, H] in category `out` (the next
// block's stashed input; a pipeline stage's last block passes temporaries: y is only sent).
// Acquires/releases `u`.
template <class T>
Buffer<T> block_forward(const LayerEnv& env, Unit<T>& u, Buffer<T> x, BlockCtx<T>& ctx,
                        MemCategory out = MemCategory::activations);
// Computes the forward intermediates into ctx (category cat); returns y (category out) when
// need_output.
template <class T>
Buffer<T> block_forward_into(const LayerEnv& env, Unit<T>& u, const T* x, BlockCtx<T>& ctx,
                             MemCategory cat, bool keep_probs, bool need_output,
                             MemCategory out = MemCategory::activations);
// dy [tokens_local, H] -> dx. Without split weight grads it also adds the weight grads to `u`
// and leaves ctx empty; with them, ctx keeps what block_weight_grads needs.
template <class T>
Buffer<T> block_backward(const LayerEnv& env, Unit<T>& u, BlockCtx<T>& ctx, Buffer<T> dy);
template <class T>
void block_weight_grads(const LayerEnv& env, Unit<T>& u, BlockCtx<T>& ctx);

// Norm helpers shared with the final norm (slots w, b of `u`; b absent under RMSNorm).
template <class T>
void norm_forward(const Dims& d, const Unit<T>& u, int w, int b, const T* x, T* y, T* mean,
                  T* rstd, int64_t rows);
template <class T>
void norm_backward(const Dims& d, const Unit<T>& u, int w, const T* dy, const T* x, const T* mean,
                   const T* rstd, T* dx, T* dgamma, T* dbeta, int64_t rows);
// Adds norm parameter grads to `u`. Under SP each TP rank saw only its tokens, so these are
// partial sums over TP until the optimizer step all-reduces them (Unit::all_reduce_replicated_grads,
// once per step, as Megatron-Core's finalize_model_grads does for sequence-parallel parameters).
template <class T>
void apply_norm_grads(const LayerEnv& env, Unit<T>& u, int w, int b, Buffer<T>& dw, Buffer<T>& db);

}  // namespace shardplan::executor
