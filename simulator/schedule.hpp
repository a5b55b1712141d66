// Pipeline schedules as data: for each pipeline stage, the ordered passes (forward F, backward
// B, weight-gradient W) it runs, with micro-batch and virtual-chunk indices. The simulator, the
// plan file and the executor all read the same lists.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/strategy.hpp"

namespace shardplan {

struct Pass {
  enum Kind : uint8_t { F, B, W } kind = F;
  int64_t micro_batch = 0;
  int64_t chunk = 0;  // virtual chunk on this stage; model position chunk * pp + stage
  bool operator==(const Pass&) const = default;
};

// "" when the combination can be scheduled, else why not (for the planner's infeasible reasons):
// pp, vp, micro_batches >= 1; vp > 1 only with the interleaved schedule, which then needs
// micro_batches to be a multiple of pp (Megatron-LM's rule).
std::string schedule_error(Schedule schedule, int64_t pp, int64_t vp, int64_t micro_batches);

// schedule[stage] = the passes of that stage in execution order; empty when schedule_error()
// is not "". Only zero_bubble emits W passes (one per micro-batch, after its B).
std::vector<std::vector<Pass>> make_schedule(Schedule schedule, int64_t pp, int64_t vp,
                                             int64_t micro_batches);

// "F", "B", "W".
const char* pass_kind_name(Pass::Kind k);

}  // namespace shardplan
