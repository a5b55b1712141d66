// The ends of the model on one rank: the vocab-parallel embedding (first stage) and the final
// norm + LM head + vocab-parallel cross-entropy (last stage). The head's table is [vocab, H]
// split by vocab rows over TP: the embedding's own unit when tied and on the same rank,
// otherwise the head unit (a tied copy is kept in sync by the tied-embedding group).
#pragma once
#include <cstdint>

#include "executor/layer_env.hpp"
#include "executor/unit.hpp"

namespace shardplan::executor {

// tokens [tokens] (the whole micro-batch) -> x [tokens_local, H].
template <class T>
Buffer<T> embed_forward(const LayerEnv& env, Unit<T>& table, const int32_t* tokens);
// dx [tokens_local, H]: adds the table's gradient.
template <class T>
void embed_backward(const LayerEnv& env, Unit<T>& table, const int32_t* tokens, const Buffer<T>& dx);

template <class T>
struct HeadCtx {
  Buffer<T> x, hn, mean, rstd;  // final-norm input and output [tokens_local, H], stats
  Buffer<T> dlogits;            // [tokens, vocab_local]: (softmax - onehot)·loss_scale
};

// x [tokens_local, H], targets [tokens]. Returns the summed token loss of the micro-batch (the
// same on every TP rank). `loss_scale` (1/tokens per step) scales the gradient kept in ctx.
template <class T>
double head_forward(const LayerEnv& env, Unit<T>& norm, Unit<T>& table, Buffer<T> x,
                    const int32_t* targets, double loss_scale, HeadCtx<T>& ctx);
// Returns dx [tokens_local, H] and adds the norm and table grads; empties ctx. With split weight
// grads (zero-bubble) the table's gradient waits for head_weight_grads, and ctx is kept for it
// (as the blocks keep theirs until their W pass).
template <class T>
Buffer<T> head_backward(const LayerEnv& env, Unit<T>& norm, Unit<T>& table, HeadCtx<T>& ctx);
template <class T>
void head_weight_grads(const LayerEnv& env, Unit<T>& table, HeadCtx<T>& ctx);

}  // namespace shardplan::executor
