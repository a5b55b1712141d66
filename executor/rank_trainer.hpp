// One rank's training loop: builds the units it owns (its TP shard of its pipeline stages'
// layers, sharded over DP by ZeRO), runs its pipeline schedule with activations and gradients
// sent between stages, then the optimizer step (DP reduction, tied-embedding sync, global
// gradient-norm clipping, AdamW, parameter all-gather).
#pragma once
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "core/model_spec.hpp"
#include "core/strategy.hpp"
#include "executor/block.hpp"
#include "executor/data.hpp"
#include "executor/embed_head.hpp"
#include "executor/layout.hpp"
#include "executor/run.hpp"
#include "executor/schedule.hpp"

namespace shardplan::executor {

struct TrainConfig {
  ModelSpec model;
  Strategy strategy;
  std::vector<int64_t> layer_bounds;  // RunOptions::layer_bounds
  uint64_t seed = 1;
  AdamWConfig adamw;
  TokenSource data = TokenSource::synthetic(1);
};
// What every rank of a run trains with (both backends): the run's model, strategy, cut and seed,
// and its tokens (synthetic, or the data file at the strategy's sequence length).
TrainConfig train_config(const RunOptions& o, const AdamWConfig& adamw = AdamWConfig());

struct RankComms {  // this rank's handles; emb only on tied-embedding ranks with pp > 1
  std::unique_ptr<Communicator> world, tp, dp, emb;
};

template <class T>
class RankTrainer {
 public:
  RankTrainer(const TrainConfig& cfg, int rank, RankComms comms, MemoryTracker& mem);
  // One optimizer step over global batch `step`; returns its mean token loss (on every rank).
  double train_step(int64_t step);
  // Every unit this rank owns, in a fixed order (checkpoints rely on it).
  std::vector<Unit<T>*> units();
  double last_grad_norm() const { return grad_norm_; }  // before clipping
  int64_t steps_done() const { return steps_done_; }
  void set_steps_done(int64_t s) { steps_done_ = s; }
  void export_params(ParamStore<T>& out);
  Communicator& world() { return *comms_.world; }

 private:
  struct Chunk {
    int vstage = 0;
    std::vector<Unit<T>> blocks;
  };
  struct MicroState {  // one micro-batch on one chunk, between its forward and backward
    std::vector<int32_t> tokens, targets;
    std::vector<BlockCtx<T>> blocks;
    HeadCtx<T> head;
  };
  void forward(int64_t step, int mb, int c);
  void backward(int mb, int c);
  void weight(int mb, int c);
  void optimizer_step();
  void load_micro_batch(int64_t step, int mb, MicroState& st) const;
  Unit<T>& head_table() { return head_ ? *head_ : *embed_; }
  int rank_of_stage(int vstage) const;
  int64_t tag(int mb, int boundary, int dir) const;

  TrainConfig cfg_;
  RankLayout layout_;
  RankCoords at_;
  int rank_;
  RankComms comms_;
  MemoryTracker* mem_;
  LayerEnv env_;
  int stages_ = 1, micro_batches_ = 1;
  std::vector<PipelinePass> order_;
  std::vector<Chunk> chunks_;
  std::unique_ptr<Unit<T>> embed_, final_norm_, head_;
  std::map<std::pair<int, int>, MicroState> in_flight_;
  double loss_sum_ = 0, grad_norm_ = 0;
  int64_t steps_done_ = 0;
};

}  // namespace shardplan::executor
