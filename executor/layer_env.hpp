// What a layer needs to run on one rank: the model's sizes as this TP rank sees them, the TP and
// DP communicators, the memory tracker, and Megatron's TP/SP communication pair:
//   tp_gather: [tokens_local, c] -> [tokens, c]   (SP all-gather; without SP never called)
//   tp_reduce: partial [tokens, c] -> summed      (SP reduce-scatter to [tokens_local, c];
//                                                  without SP all-reduce in place)
// Each is the other's backward. Under SP the residual stream holds a contiguous block of
// tokens_local = tokens/tp rows of the micro-batch's [batch·seq, hidden] matrix per TP rank
// (Megatron shards s of [s, b, h]; every op outside attention and the GEMMs is per token).
#pragma once
#include <cstdint>
#include <stdexcept>

#include "core/model_spec.hpp"
#include "core/strategy.hpp"
#include "executor/comm.hpp"
#include "executor/memory.hpp"

namespace shardplan::executor {

struct Dims {
  int64_t hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0, vocab = 0;
  int64_t seq = 0, micro_batch = 1, tokens = 0;  // tokens = micro_batch·seq
  int64_t tp = 1;
  int64_t tokens_local = 0;  // rows of the residual stream on this rank (tokens/tp under SP)
  int64_t heads_local = 0, kv_heads_local = 0, ffn_local = 0, vocab_local = 0;
  bool sp = false, swiglu = false, rmsnorm = false;
  Recompute recompute = Recompute::none;

  int64_t q_local() const { return heads_local * head_dim; }
  int64_t kv_local() const { return kv_heads_local * head_dim; }
};

// Throws std::runtime_error when the strategy's TP does not divide the model's sizes.
Dims make_dims(const ModelSpec& m, const Strategy& s);

struct LayerEnv {
  Dims d;
  Communicator* tp = nullptr;
  Communicator* dp = nullptr;
  MemoryTracker* mem = nullptr;
  int tp_idx = 0;
  bool split_weight_grads = false;  // zero-bubble: backward leaves weight grads to a W pass
};

template <class T>
Buffer<T> tp_gather(const LayerEnv& env, const T* x, int64_t cols, MemCategory category);
template <class T>
Buffer<T> tp_reduce(const LayerEnv& env, Buffer<T> partial, int64_t cols, MemCategory category);

}  // namespace shardplan::executor
