// Per-GPU memory of each pipeline stage: model states under ZeRO (Rajbhandari et al. 2020;
// Megatron's 18 bytes/parameter), activations in flight under the schedule (Korthikanti et al.
// 2022 §4), communication buffers, and the runtime allowance of the GPU profile.
#pragma once
#include <vector>

#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "costmodel/estimate.hpp"
#include "costmodel/pipeline.hpp"

namespace shardplan {

// Bytes per parameter of weights, gradients and optimizer states before ZeRO sharding.
struct StateBytes {
  double weights = 2, grads = 4, optimizer = 12;
};
// grad_reduce: Strategy::grad_reduce (fp32, or the 16-bit type of the training).
// fp8_param_gather: Strategy::fp8_param_gather (FP8 weights only, no 16-bit copy).
StateBytes state_bytes(DType precision, DType grad_reduce, bool fp8_param_gather = false);
inline StateBytes state_bytes(const Strategy& s) {
  return state_bytes(s.precision, s.grad_reduce, s.fp8_param_gather);
}
// Bytes per parameter of the compute copy that ZeRO all-gathers (fp32: the weights themselves;
// FP8 weights with fp8_param_gather: 1).
double gathered_param_bytes(const Strategy& s);

// Micro-batches (of one stage's full set of chunks) whose activations stage `stage` holds at
// its peak under the schedule.
double inflight_micro_batches(const Strategy& s, int64_t stage);

std::vector<StageMemory> stage_memory(const Strategy& s, const ClusterSpec& cluster, const OpGraph& g,
                                      const std::vector<ChunkTotals>& chunks);
// The same from the per-stage totals (stage_totals(), PipelineInputs::stage).
std::vector<StageMemory> stage_memory_of(const Strategy& s, const ClusterSpec& cluster,
                                         const std::vector<ChunkTotals>& stages);

}  // namespace shardplan
