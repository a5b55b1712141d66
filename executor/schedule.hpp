// Pipeline schedules as the ordered list of passes each pipeline rank runs in one step:
// GPipe (all forwards, then all backwards), 1F1B (PipeDream-Flush), interleaved 1F1B over vp
// model chunks (Megatron-LM's order), and zero-bubble ZB-H1 (backward split into B, the input
// gradient, and W, the weight gradient, with W deferred to fill the cool-down bubble).
// Virtual stage of chunk c on pipeline rank r: c·pp + r; it holds one contiguous run of layers.
#pragma once
#include <string>
#include <vector>

#include "core/strategy.hpp"

namespace shardplan::executor {

enum class PassKind { forward, backward, weight };

struct PipelinePass {
  PassKind kind = PassKind::forward;
  int micro_batch = 0;
  int chunk = 0;  // model chunk on this rank (0..vp-1)
  bool operator==(const PipelinePass&) const = default;
};

// "" when the schedule can run (pp, vp, micro-batches per replica), else the reason.
std::string schedule_problem(Schedule s, int pp, int vp, int micro_batches);
std::vector<PipelinePass> pipeline_order(Schedule s, int pp, int vp, int pp_rank, int micro_batches);
inline bool splits_weight_grads(Schedule s) { return s == Schedule::zero_bubble; }

// Runs every rank's order against each other with buffered sends and blocking receives.
struct ScheduleRun {
  bool completes = false;              // false: the orders deadlock
  std::vector<int> peak_in_flight;     // per rank: most micro-batch chunks holding activations
};
ScheduleRun simulate_schedule(Schedule s, int pp, int vp, int micro_batches);

// Layers [first, last) of virtual stage v of pp·vp: bounds[v], bounds[v + 1] where a cut is given
// (pp·vp + 1 layer indices), else as even as possible, earlier stages first.
void stage_layers(const std::vector<int64_t>& bounds, int64_t layers, int stages, int v, int64_t& first,
                  int64_t& last);

}  // namespace shardplan::executor
