// One GPU rank's training loop (executor/rank_trainer.hpp on the GPU): its units, its pipeline
// schedule with bf16 activations and float gradients sent between stages, and the optimizer step.
// The summed loss stays on the device until the step's one host synchronisation (the gradient
// norm and loss all-reduce).
#pragma once
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "executor/cuda/comm_nccl.hpp"
#include "executor/cuda/model.hpp"
#include "executor/layout.hpp"
#include "executor/rank_trainer.hpp"
#include "executor/schedule.hpp"

namespace shardplan::executor::cuda {

struct CudaRankComms {  // emb only on tied-embedding ranks with pp > 1
  std::unique_ptr<DeviceComm> world, tp, dp, emb;
};

class CudaRankTrainer {
 public:
  // `blas` and the communicators are ordered on `stream`.
  CudaRankTrainer(const TrainConfig& cfg, int rank, CudaRankComms comms, MemoryTracker& mem,
                  Stream stream, Blas& blas);
  double train_step(int64_t step);  // mean token loss (every rank)
  double last_grad_norm() const { return grad_norm_; }
  void export_params(ParamStore<float>& out);
  DeviceComm& world() { return *comms_.world; }

 private:
  struct Chunk {
    int vstage = 0;
    std::vector<DUnit> blocks;
  };
  struct MicroState {
    std::vector<int32_t> tokens, targets;  // host copies (embedding backward groups by row)
    DevBuf<int32_t> d_tokens, d_targets;
    std::vector<DBlockCtx> blocks;
    DHeadCtx head;
  };
  void forward(int64_t step, int mb, int c);
  void backward(int mb, int c);
  void weight(int mb, int c);
  void optimizer_step();
  void load_micro_batch(int64_t step, int mb, MicroState& st) const;
  DUnit& head_table() { return head_ ? *head_ : *embed_; }
  int rank_of_stage(int vstage) const;
  int64_t tag(int mb, int boundary, int dir) const;

  TrainConfig cfg_;
  RankLayout layout_;
  RankCoords at_;
  int rank_;
  CudaRankComms comms_;
  MemoryTracker* mem_;
  CudaEnv env_;
  int stages_ = 1, micro_batches_ = 1;
  std::vector<PipelinePass> order_;
  std::vector<Chunk> chunks_;
  std::unique_ptr<DUnit> embed_, final_norm_, head_;
  std::map<std::pair<int, int>, MicroState> in_flight_;
  DevBuf<double> loss_;  // this step's summed token loss (last stage)
  double loss_sum_ = 0, grad_norm_ = 0;
  int64_t steps_done_ = 0;
};

// The directed pipeline links a plan's schedules use, for NcclWorld::connect_pairs with
// kPipelineChannels: channel 0 carries activations, 1 gradients (a message's tag % 2).
inline constexpr int kPipelineChannels = 2;
std::vector<P2PLink> pipeline_links(const Strategy& s);

}  // namespace shardplan::executor::cuda
