// Pipeline assembly: per-stage pass times -> step time with the schedule's bubble (Narayanan et
// al. 2021 §2.2; Qi et al. 2023 for ZB-H1), point-to-point transfers, exposed DP communication
// and the optimizer step. Also builds the simulator's StageCosts from the same numbers.
#pragma once
#include <vector>

#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "costmodel/block_cost.hpp"
#include "costmodel/estimate.hpp"
#include "costmodel/stage_costs.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

// Sum of the BlockCosts of one pipeline chunk (per micro-batch, per GPU).
struct ChunkTotals {
  double fwd_s = 0, bwd_input_s = 0, bwd_weight_s = 0, recompute_s = 0;
  double tp_comm_s = 0, cp_comm_s = 0, ep_comm_s = 0;
  double model_flops = 0, hardware_flops = 0;
  double saved_bytes = 0, transient_bytes = 0, max_block_params = 0;
  double rebuilt_bytes = 0;      // BlockCost::rebuilt_bytes, summed
  double dense_params = 0, expert_params = 0, boundary_bytes = 0;
  double fp8_weight_params = 0;  // BlockCost::fp8_weight_params, summed
  double module_tensors = 0;     // BlockCost::module_tensors, summed
  double max_module_params = 0;  // BlockCost::max_module_params, the largest
  double recomputed_params = 0;  // parameters of the blocks whose forward is recomputed
  double max_block_16bit_params = 0;  // the most parameters outside FP8 GEMMs in any one block
  int64_t blocks = 0;
  static ChunkTotals of(const BlockCost& b, int64_t count = 1);  // `count` identical blocks
  void merge(const ChunkTotals& x);  // sums, and the larger of the maxima and boundaries
  void add(const BlockCost& b, int64_t count = 1);  // merge, then the chunk sends b's boundary
};

struct PipelineInputs {
  const Strategy* s = nullptr;
  std::vector<ChunkTotals> stage;   // per pipeline stage, summed over its virtual chunks
  std::vector<double> dp_comm_s;    // per stage: gradient reduction (+ param gather) if alone
  std::vector<double> dp_per_micro_batch_s;  // per stage: ZeRO-2/3 traffic of each micro-batch
  std::vector<double> optimizer_s;  // per stage
  // Per stage: how much longer its last backward passes run because the step's gradient
  // reduction, issued beside them, holds some of the SMs; the drain carries it to the stages
  // before (each waits for the gradients of the one after).
  std::vector<double> drain_stretch_s;
  double p2p_s = 0;                 // one activation transfer between stages
};

struct PipelineResult {
  double step_s = 0;
  Breakdown breakdown;
};

// Chunks summed per pipeline stage (chunk c on stage c mod pp); sizes of the largest block,
// transient set and boundary are maxima.
std::vector<ChunkTotals> stage_totals(const Strategy& s, const std::vector<ChunkTotals>& chunks);
void stage_totals(const Strategy& s, const std::vector<ChunkTotals>& chunks, std::vector<ChunkTotals>& out);

PipelineInputs pipeline_inputs(const Strategy& s, const ClusterSpec& cluster, const OpGraph& g,
                               const std::vector<ChunkTotals>& chunks);
// The same into `in`, reusing its vectors' storage (the estimator's per-thread scratch).
void pipeline_inputs(const Strategy& s, const ClusterSpec& cluster, const OpGraph& g,
                     const std::vector<ChunkTotals>& chunks, PipelineInputs& in);
PipelineResult pipeline_time(const PipelineInputs& in);
// What a step's gradient reduction taking `comm` alone leaves exposed after the stage's last
// backward when each of its vp chunks reduces as soon as its gradients are ready (bwd: the
// stage's backward of one micro-batch). vp = 1: max(0, comm - bwd).
double exposed_after_backward(double comm, double bwd, int64_t vp, int64_t pp);
StageCosts make_stage_costs(const Strategy& s, const ClusterSpec& cluster, const OpGraph& g,
                            const std::vector<ChunkTotals>& chunks);

}  // namespace shardplan
