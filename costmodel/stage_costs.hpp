// StageCosts: what the cost model hands the simulator for one strategy — per pipeline stage and
// virtual chunk, the duration of each pass of one micro-batch, the bytes it keeps and sends, and
// the step's data-parallel and optimizer work. One source of truth for per-op cost: the simulator
// schedules these tasks, it never prices an op itself.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/strategy.hpp"

namespace shardplan {

// One micro-batch through one chunk (a contiguous run of blocks) of one pipeline stage.
struct ChunkCost {
  double fwd_s = 0;          // forward compute incl. exposed TP/CP/EP communication
  double bwd_input_s = 0;    // backward: input gradient (B pass), incl. its exposed comm
  double bwd_weight_s = 0;   // backward: weight gradient (W pass); B+W = the full backward
  double recompute_s = 0;    // forward recomputation before the backward (recompute modes)
  double activation_bytes = 0;  // stashed from forward until backward, one micro-batch
  // Held from the end of the B pass to the W pass beyond activation_bytes (ZB-H1 with full or op
  // recompute: the rebuilt activations the weight gradients need).
  double w_pending_bytes = 0;
  double send_bytes = 0;     // activation sent to the next stage (gradient of same size back)
  double param_gather_bytes = 0;  // ZeRO-3: parameters all-gathered before fwd and bwd
  double grad_bytes = 0;     // gradients this chunk reduces over DP (once per step; ZeRO-2/3 per
                             // micro-batch)
  int64_t blocks = 1;        // blocks (layers) in the chunk: ZeRO-2/3's units (one per block)
  std::string first_block, last_block;  // names, for traces
};

// A collective or point-to-point path priced as alpha + bytes / bandwidth.
struct Link {
  double bandwidth_Bps = 0;  // achievable, bytes/s
  double latency_s = 0;
  std::string name;          // the network level it runs on ("nvlink", "ib")
};

struct StageCosts {
  int64_t pp = 1, vp = 1, micro_batches = 1;
  Schedule schedule = Schedule::one_f_one_b;
  // chunks[stage][v]: virtual chunk v of pipeline stage `stage` (model order: v*pp + stage).
  std::vector<std::vector<ChunkCost>> chunks;
  std::vector<double> static_bytes;    // per stage: weights + grads + optimizer states + buffers
  std::vector<double> optimizer_s;     // per stage: optimizer step time
  std::vector<double> dp_comm_s;       // per stage: the DP gradient reduction if run alone
  std::vector<double> param_gather_s;  // per stage: ZeRO-3's parameter all-gather before one pass
                                       // of every chunk, if alone; shared among the chunks
  bool gather_before_forward = true;   // ZeRO-3 gathers before F passes too; false: B passes only
                                       // (under PP, where parameters stay gathered after backward)
  // The parameter gathers before each B pass, in whole-model gathers: 1, and up to 2 where a
  // recomputed forward gathers its blocks' parameters again (DeepSpeed's ZeRO-3).
  double backward_gathers = 1;
  // Per stage: ZeRO-2/3's reduce-scatter of one micro-batch's gradients over all its chunks, if
  // alone, run after every micro-batch's backward (FSDP reduces each unit's gradients as its
  // backward produces them); shared among the chunks by grad_bytes.
  std::vector<double> grad_reduce_per_mb_s;
  // Per stage: ZeRO-1/2's all-gather of the updated parameters after the optimizer step, the part
  // of it the next step's forward does not hide (all of it without overlap_param_gather).
  std::vector<double> param_gather_after_s;
  // Of dp_comm_s, param_gather_s, grad_reduce_per_mb_s and param_gather_after_s, the part that moves bytes through each
  // GPU's NIC (the bandwidth term across NVLink domains, CommTime::nic_s); the simulator runs it
  // as a flow of nic_s * nic.bandwidth_Bps bytes on the GPU's NIC link, the rest as fixed
  // latency. Empty: none.
  std::vector<double> dp_comm_nic_s;
  std::vector<double> param_gather_nic_s;
  std::vector<double> grad_reduce_per_mb_nic_s;
  std::vector<double> param_gather_after_nic_s;
  Link p2p;      // stage-to-stage send/recv
  Link dp_link;  // the DP group's bottleneck level
  Link nic;      // each GPU's own NIC (the first level above NVLink), shared by all its traffic
  bool p2p_on_nic = false;  // stage-to-stage transfers leave the NVLink domain (share the NIC)
  bool overlap_grad_reduce = true;
  // The SMs the DP collectives' kernels hold while they run beside compute (comm_sms / sms): with
  // overlap_grad_reduce, a pass that a reduction or gather runs beside is that fraction of the
  // collective's time longer (beside_compute_s in the estimate).
  double comm_sm_fraction = 0;
};

// How much longer `compute_s` of work runs beside a collective of `comm_s` whose kernels hold
// fraction k of the SMs: k times the part of the collective it overlaps, at most the whole pass
// at the reduced rate (the collective may outlast it): k min(comm, compute / (1 - k)).
inline double stretch_beside_collective_s(double k, double compute_s, double comm_s) {
  return k > 0 && k < 1 ? k * std::min(comm_s, compute_s / (1 - k)) : 0;
}

}  // namespace shardplan
