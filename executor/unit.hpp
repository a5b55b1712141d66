// A Unit is one group of parameters that moves together (the embedding, one block, the final
// norm, the head): a flat buffer of this TP rank's shards, its gradients and AdamW states, and
// their ZeRO sharding over the DP group (stage 0: replicated; 1: optimizer states sharded;
// 2: + gradients; 3: + parameters, gathered around each use).
#pragma once
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "executor/comm.hpp"
#include "executor/memory.hpp"
#include "executor/params.hpp"

namespace shardplan::executor {

struct ShardCoords {
  int tp_idx = 0, tp = 1, dp_idx = 0, dp = 1, zero = 0;
};

struct AdamWConfig {  // PyTorch AdamW semantics (decoupled weight decay)
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
  double max_grad_norm = 1.0;  // global clipping; <= 0 disables
};

// Full (unsharded) tensors by parameter name, filled by every rank at the end of a run.
template <class T>
struct ParamStore {
  std::map<std::string, std::vector<T>> tensors;
  std::mutex mu;
};

template <class T>
class Unit {
 public:
  // `norm_counted`: false for a tied copy whose gradient the original already counts.
  Unit(std::vector<ParamSpec> specs, ShardCoords sh, MemoryTracker& mem, uint64_t seed,
       bool norm_counted = true);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  int64_t numel() const { return numel_; }        // this TP rank's flat size
  int64_t shard_numel() const { return shard_; }  // per DP rank (padded), ZeRO >= 1

  // Parameters of slot i (local TP shard): valid between acquire() and release(); only ZeRO-3
  // communicates (all-gather of the DP shards).
  void acquire(Communicator& dp);
  void release();
  const T* param(int i) const;

  // Gradients of slot i: valid between begin_grads() and end_grads(). Under ZeRO-2/3 the full
  // gradient is transient and end_grads() reduce-scatters it into this rank's shard.
  void begin_grads();
  T* grad(int i);
  void end_grads(Communicator& dp);

  // Optimizer step, in order: reduce_grads (DP), [all_reduce_grads over the tied-embedding
  // group], [all_reduce_replicated_grads over TP under SP], grad_sumsq, adamw, finish_step.
  void reduce_grads(Communicator& dp);
  void all_reduce_grads(Communicator& group);
  // Sums the owned gradients of the TP-replicated slots (the norms) over TP, one all-reduce per
  // slot: under SP each TP rank accumulated them over its own tokens only.
  void all_reduce_replicated_grads(Communicator& tp);
  double grad_sumsq() const;
  void adamw(const AdamWConfig& cfg, int64_t step, double clip_scale);
  void finish_step(Communicator& dp);

  // The arrays a checkpoint saves: owned parameters, first and second moments.
  std::vector<Buffer<T>*> state();
  // Writes this unit's tensors into `out` (DP rank 0 only; collective under ZeRO-3).
  void export_params(Communicator& dp, ParamStore<T>& out);

 private:
  int64_t owned_begin() const;
  int64_t owned_end() const;
  T* owned_grads();
  const T* owned_grads() const;
  // Calls fn(slot, begin, end) for each slot's part of the flat range [b, e).
  template <class F> void for_each_segment(int64_t b, int64_t e, F&& fn) const;

  std::vector<ParamSpec> specs_;
  std::vector<int64_t> offset_;
  ShardCoords sh_;
  MemoryTracker* mem_;
  bool norm_counted_;
  int64_t numel_ = 0, shard_ = 0, padded_ = 0;
  Buffer<T> params_;      // ZeRO < 3: [padded]; ZeRO 3: [shard]
  Buffer<T> gathered_;    // ZeRO 3 while acquired: [padded]
  int acquired_ = 0;
  Buffer<T> grads_;       // ZeRO 0/1: [padded] (ZeRO 1 reduces into its chunk); 2/3: [shard]
  Buffer<T> grad_full_;   // ZeRO 2/3 between begin/end_grads: [padded]
  int grad_users_ = 0;
  Buffer<T> m_, v_;       // ZeRO 0: [numel]; ZeRO >= 1: [shard]
};

}  // namespace shardplan::executor
