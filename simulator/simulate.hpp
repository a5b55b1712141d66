// simulate(): one training step of a strategy, priced by the cost model (StageCosts), played out
// on the discrete-event engine: pipeline schedule, p2p transfers, DP gradient reduction and
// ZeRO-3 gathers, optimizer. Pure: no files, no printing; same input, same result bytes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "costmodel/stage_costs.hpp"

namespace shardplan {

struct SimOptions {
  // false: one representative rank per pipeline stage (its cost does not depend on dp or tp).
  // true: dp replicas of every stage, DP reductions as collectives across them; each simulated
  // GPU sends its p2p transfers through its own link (its NIC, or its NVLink port).
  bool full = false;
  int64_t dp = 1;  // replicas simulated when full
  bool record_trace = false;
  // Megatron reduces gradients in buckets (40M parameters each by default) as the last
  // micro-batch's backward produces them; here each chunk's gradients form this many equal buckets,
  // ready one by one during the chunk's last backward pass.
  int64_t grad_buckets_per_chunk = 4;
  // ZeRO-2/3 gather and reduce per unit, one unit per block as FSDP wraps each transformer block;
  // a pass runs as at most this many units (a larger chunk's blocks are grouped), which bounds the
  // graph. Above the deepest models' layer counts (126), so a unit is a block: the reduction of
  // the last one, which nothing hides, is a block's.
  int64_t max_units_per_pass = 128;
};

// The streams of one simulated GPU. TP communication is not a stream of its own here: the cost
// model folds its exposed part into the pass times, so tp_comm only names the trace row.
enum class SimStream : uint8_t {
  compute,
  tp_comm,
  dp_comm,
  pp_send_fwd,
  pp_recv_fwd,
  pp_send_bwd,
  pp_recv_bwd,
  dp_reduce  // the step's gradient reduction (in buckets), beside dp_comm, which carries ZeRO-3's
             // gathers and ZeRO-2/3's per-micro-batch reduce-scatters in issue order
};
inline constexpr int kSimStreams = 8;
const char* sim_stream_name(SimStream s);

struct TraceEvent {
  int64_t gpu = 0;  // simulated rank: replica * pp + stage (each stands for its TP group)
  SimStream stream = SimStream::compute;
  std::string name;  // "F mb3 chunk1 layers 4-7"
  double start_s = 0, duration_s = 0;
  bool operator==(const TraceEvent&) const = default;
};

struct MemorySample {
  int64_t gpu = 0;
  double t_s = 0;
  double bytes = 0;  // allocated on that GPU from t_s on
  bool operator==(const MemorySample&) const = default;
};

struct SimResult {
  std::string error;           // non-empty: nothing was simulated (bad shape, unschedulable)
  double step_time_s = 0;      // max over stages of the end of the optimizer step
  int64_t critical_stage = 0;  // the stage that ends last (lowest index on ties)
  // Per pipeline stage (replica 0; replicas of a stage are identical in time):
  std::vector<double> end_s;     // end of its optimizer step
  std::vector<double> busy_s;    // compute stream busy time (passes, recompute, optimizer)
  std::vector<double> bubble_s;  // compute stream idle between its first task and its last
  std::vector<double> exposed_dp_comm_per_stage_s;  // last grad reduction end - last pass end
  // Memory: static_bytes from t = 0; a chunk's activation_bytes from the start of each F to the
  // end of its B, or of its W when the chunk has one (ZB-H1: W reads the layer inputs F saved).
  std::vector<double> peak_memory_bytes;  // static + activations, at its highest
  std::vector<double> peak_time_s;        // first instant the peak is reached
  // (step - busy) / step of the critical stage: its compute idle, in the pipeline bubble or
  // waiting on communication (the simulator does not tell the two apart).
  double idle_fraction = 0;
  double exposed_dp_comm_s = 0;  // of the critical stage: reduction time compute did not hide
  int64_t gpus = 0;              // simulated ranks: pp, or dp * pp when full
  int64_t tasks = 0, events = 0;
  std::vector<TraceEvent> trace;     // record_trace only, in task order
  std::vector<MemorySample> memory;  // record_trace only, per GPU in time order
};

SimResult simulate(const StageCosts& costs, const SimOptions& options = {});

}  // namespace shardplan
