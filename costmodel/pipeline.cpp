// Step time of a pipelined, data-parallel step. Per stage i: t_i = F + B + W + recompute of one
// micro-batch (plus ZeRO-2/3 per-micro-batch traffic that compute cannot hide). The slowest stage
// sets the steady state (m * t_max); the fill and drain add the schedule's bubble.
#include "costmodel/pipeline.hpp"

#include <algorithm>

#include "costmodel/collectives.hpp"
#include "costmodel/gemm.hpp"
#include "costmodel/memory.hpp"
#include "costmodel/tp_overlap.hpp"
#include "costmodel/zero3_host.hpp"

namespace shardplan {

ChunkTotals ChunkTotals::of(const BlockCost& b, int64_t count) {
  const double n = double(count);
  ChunkTotals t;
  t.fwd_s = n * b.fwd_s;
  t.bwd_input_s = n * b.bwd_input_s;
  t.bwd_weight_s = n * b.bwd_weight_s;
  t.recompute_s = n * b.recompute_s;
  t.tp_comm_s = n * b.tp_comm_s;
  t.cp_comm_s = n * b.cp_comm_s;
  t.ep_comm_s = n * b.ep_comm_s;
  t.model_flops = n * b.model_flops;
  t.hardware_flops = n * b.hardware_flops;
  t.saved_bytes = n * b.saved_bytes;
  t.rebuilt_bytes = n * b.rebuilt_bytes;
  t.transient_bytes = b.transient_bytes;
  t.max_block_params = b.dense_params + b.expert_params;
  t.dense_params = n * b.dense_params;
  t.expert_params = n * b.expert_params;
  t.fp8_weight_params = n * b.fp8_weight_params;
  t.module_tensors = n * b.module_tensors;
  t.max_module_params = b.max_module_params;
  t.recomputed_params = b.recompute_s > 0 ? n * (b.dense_params + b.expert_params) : 0;
  t.max_block_16bit_params = std::max(0.0, b.dense_params + b.expert_params - b.fp8_weight_params);
  t.boundary_bytes = b.boundary_bytes;
  t.blocks = count;
  return t;
}

void ChunkTotals::merge(const ChunkTotals& x) {
  fwd_s += x.fwd_s;
  bwd_input_s += x.bwd_input_s;
  bwd_weight_s += x.bwd_weight_s;
  recompute_s += x.recompute_s;
  tp_comm_s += x.tp_comm_s;
  cp_comm_s += x.cp_comm_s;
  ep_comm_s += x.ep_comm_s;
  model_flops += x.model_flops;
  hardware_flops += x.hardware_flops;
  saved_bytes += x.saved_bytes;
  rebuilt_bytes += x.rebuilt_bytes;
  transient_bytes = std::max(transient_bytes, x.transient_bytes);
  max_block_params = std::max(max_block_params, x.max_block_params);
  dense_params += x.dense_params;
  expert_params += x.expert_params;
  fp8_weight_params += x.fp8_weight_params;
  module_tensors += x.module_tensors;
  max_module_params = std::max(max_module_params, x.max_module_params);
  recomputed_params += x.recomputed_params;
  max_block_16bit_params = std::max(max_block_16bit_params, x.max_block_16bit_params);
  boundary_bytes = std::max(boundary_bytes, x.boundary_bytes);
  blocks += x.blocks;
}

void ChunkTotals::add(const BlockCost& b, int64_t count) {
  merge(of(b, count));
  boundary_bytes = b.boundary_bytes;  // the chunk's last block sends (callers adding counts set it)
}

std::vector<ChunkTotals> stage_totals(const Strategy& s, const std::vector<ChunkTotals>& chunks) {
  std::vector<ChunkTotals> st;
  stage_totals(s, chunks, st);
  return st;
}

void stage_totals(const Strategy& s, const std::vector<ChunkTotals>& chunks, std::vector<ChunkTotals>& st) {
  // One chunk per stage: each stage's totals are its chunk's (merge sums or takes the
  // larger of non-negative values, so the copy is exact). The planner's common case.
  if (chunks.size() == static_cast<size_t>(s.pp)) {
    st.assign(chunks.begin(), chunks.end());
    return;
  }
  st.assign(s.pp, ChunkTotals{});
  for (size_t c = 0; c < chunks.size(); ++c) st[c % s.pp].merge(chunks[c]);
}

namespace {

// Under PP, ZeRO-2/3 keep gradients whole through the step (zero_within_step is 1): reduced and
// parameters gathered once per step, as ZeRO-1. ZeRO-3 there also re-gathers the parameters
// before every backward, having resharded them after the forward.
bool regathers_before_backward(const Strategy& s) { return s.zero == 3 && !params_sharded_in_step(s); }

// The ZeRO-3 gathers before each backward, in whole-stage gathers: one, plus the recomputed
// blocks' share where their recomputed forward gathers again (DeepSpeed's hooks release the
// parameters after every forward, that one too). Counted by parameters (bytes).
double backward_gathers(const Strategy& s, const ChunkTotals& st) {
  const double params = st.dense_params + st.expert_params;
  if (s.zero != 3 || !per_module_gathers(s.zero3_impl) || s.recompute != Recompute::full || params <= 0) return 1;
  return 1 + std::min(1.0, st.recomputed_params / params);
}

// Whether the DP traffic runs beside compute: as the strategy says, except that deepspeed-2021
// synchronizes the whole device before every parameter gather (core/zero3_impl.hpp).
bool dp_overlaps(const Strategy& s) {
  return s.overlap_grad_reduce && !(s.zero == 3 && s.zero3_impl == Zero3Impl::deepspeed_2021);
}

// CP ranks hold the same weights: gradients are reduced and ZeRO shards over dp*cp ranks, which
// sit tp apart in the layout (Megatron's data-parallel group with context parallelism).
GroupPlacement dp_group(const Strategy& s, const ClusterSpec& cluster) {
  return place_group(cluster, s.dp * s.cp, s.tp);
}
GroupPlacement expert_dp_group(const Strategy& s, const ClusterSpec& cluster) {
  return place_group(cluster, s.expert_dp(), s.ep);
}

// The DP group's collectives over one stage's state, each if run alone: dense parameters over the
// dp*cp group, expert parameters over the expert-data-parallel group. Gradients are reduced in
// their stored width; parameters are gathered in 16 bits (fp8 training keeps bf16 masters).
struct DpCollectives {
  CommTime ar, rs, ag;  // all-reduce and reduce-scatter of gradients, all-gather of parameters
  // The same reduce-scatter and all-gather issued unit by unit, as ZeRO-2/3's per-micro-batch
  // traffic goes: one block (one FSDP unit) at a time, or one weight tensor at a time under
  // DeepSpeed's ZeRO-3 (per_module_gathers). Each unit's collective pays the latency (and the
  // implementation's host time, zero3_host_s). Alpha-beta costs are linear in bytes, so
  // units * cost(bytes / units) sums them.
  CommTime rs_unit, ag_unit;
};
DpCollectives dp_collectives(const GroupPlacement& dp, const GroupPlacement& edp, const Strategy& s,
                             const ChunkTotals& st) {
  const StateBytes sb = state_bytes(s);
  // FP8-GEMM weights: the routed experts' first, then the dense layers'.
  const double fp8_e = std::min(st.expert_params, st.fp8_weight_params);
  double grad_d = st.dense_params * sb.grads, grad_e = st.expert_params * sb.grads;
  double param_d = gathered_bytes(s, st.dense_params, st.fp8_weight_params - fp8_e);
  double param_e = gathered_bytes(s, st.expert_params, fp8_e);
  DpCollectives c;
  c.ar = all_reduce_time(dp, grad_d) + all_reduce_time(edp, grad_e);
  c.rs = all_gather_time(dp, grad_d) + all_gather_time(edp, grad_e);  // same cost as a gather
  c.ag = all_gather_time(dp, param_d) + all_gather_time(edp, param_e);
  const bool per_module = s.zero == 3 && per_module_gathers(s.zero3_impl);
  if (per_module && st.module_tensors <= 0) {
    // Every tensor under DeepSpeed's persistence threshold: kept whole, nothing gathered; the
    // gradients are reduced in one bucket.
    c.rs_unit = c.rs;
    return c;
  }
  const double units = std::max(1.0, per_module ? st.module_tensors : double(st.blocks));
  const CommTime host{per_module ? zero3_host_s(s.zero3_impl, dp.n) : 0, 0};
  c.rs_unit = (all_gather_time(dp, grad_d / units) + all_gather_time(edp, grad_e / units) + host).scaled(units);
  c.ag_unit = (all_gather_time(dp, param_d / units) + all_gather_time(edp, param_e / units) + host).scaled(units);
  return c;
}

// dp_collectives over the stages of a pipeline, computed once per distinct stage shape (the
// middle stages of a transformer are identical; the planner prices millions of pipelines).
class DpCollectivesPerStage {
 public:
  DpCollectivesPerStage(const GroupPlacement& dp, const GroupPlacement& edp, const Strategy& s)
      : dp_(dp), edp_(edp), s_(s) {}
  const DpCollectives& operator()(const ChunkTotals& st) {
    if (!valid_ || st.dense_params != dense_ || st.expert_params != expert_ || st.blocks != blocks_ ||
        st.module_tensors != tensors_) {
      last_ = dp_collectives(dp_, edp_, s_, st);
      dense_ = st.dense_params, expert_ = st.expert_params, blocks_ = st.blocks, valid_ = true;
      tensors_ = st.module_tensors;
    }
    return last_;
  }

 private:
  GroupPlacement dp_, edp_;
  const Strategy& s_;
  DpCollectives last_;
  double dense_ = 0, expert_ = 0, tensors_ = 0;
  int64_t blocks_ = 0;
  bool valid_ = false;
};

// What of a collective run beside `hide_s` of compute the step pays (beside_compute_s), with
// the collective's split between the NIC and the rest kept.
CommTime exposed(const GpuSpec& gpu, const CommTime& c, double hide_s) {
  const double t = c.total_s();
  return t > 0 ? c.scaled(beside_compute_s(gpu, t, std::max(0.0, t - hide_s)) / t) : c;
}

// The optimizer step of Megatron's mixed-precision optimizer, memory-bound, per parameter:
// on the gradient replica this GPU holds (`grad_params`), zeroing the fp32 main-grad buffer for the
// next step (write 4 B); on the shard it updates (`shard_params`): fp16 loss-scale unscale and
// inf check (read 4 + write 4 B, fp16 only), the gradient-norm pass (read 4 B), fused Adam (read
// master, grad, m, v 16 B; write master, m, v 12 B) and the copy of the new master weights into the
// 16-bit model weights (read 4 + write 2 B; none in fp32 training, whose weights are the master
// copy). Gradients reduced in 16 bits (grad_bytes 2) zero a 2-byte buffer and are cast into fp32
// main gradients on the shard first (read 2 + write 4 B). Multi-tensor kernels: a handful of
// launches each.
double optimizer_time_s(const GpuSpec& gpu, DType precision, double grad_bytes, double grad_params,
                        double shard_params) {
  const double unscale = precision == DType::fp16 ? 8 : 0;
  const double copy = precision == DType::fp32 || precision == DType::tf32 ? 0 : 6;
  const double cast = grad_bytes < 4 ? grad_bytes + 4 : 0;
  return memory_time_s(gpu, grad_bytes * grad_params + shard_params * (unscale + cast + 4 + 28 + copy), 12);
}
// Megatron's scatter/gather between stages: each TP rank sends 1/tp of a chunk's boundary
// activation (boundary_bytes, already 1/tp under SP), and without SP the receiving stage
// all-gathers it over its TP group.
double p2p_message_bytes(const Strategy& s, double boundary_bytes) {
  return s.sp ? boundary_bytes : boundary_bytes / double(s.tp);
}
// The largest activation any chunk (or stage) sends on.
double max_boundary_bytes(const std::vector<ChunkTotals>& chunks) {
  double bytes = 0;
  for (const ChunkTotals& x : chunks) bytes = std::max(bytes, x.boundary_bytes);
  return bytes;
}
double p2p_regather_s(const Strategy& s, const ClusterSpec& cluster, double boundary_bytes) {
  return !s.sp && s.tp > 1 ? all_gather_s(place_group(cluster, s.tp, 1), boundary_bytes) : 0;
}
}  // namespace

// (pipeline.hpp) What a step's gradient reduction of `comm` leaves exposed after the last backward
// of pipeline stage 0 (overlap_grad_reduce, as Megatron-Core runs it by default: with
// align_grad_reduce, schedules.py). Without interleaving stage 0 turns gradient sync on before its
// last backward, whose buckets reduce as they fill: comm - bwd. Under interleaving a chunk's
// reduction is launched whole once its last backward is done (grad_sync_func), and the vp chunks
// finish apart: chunk c (c = 0 the first layers, last to finish) has its last backward end about
// c * pp backward passes of a chunk (bwd / vp each) before the stage's last, so the reductions of
// the others run during the drain. The NIC takes them in order, each comm / vp:
// exposed = max(0, max_c [(c + 1) comm / vp - c pp bwd / vp]).
double exposed_after_backward(double comm, double bwd, int64_t vp, int64_t pp) {
  if (vp <= 1) return std::max(0.0, comm - bwd);
  double e = 0;
  const double v = double(vp);
  for (int64_t c = 0; c < vp; ++c)
    e = std::max(e, (double(c) + 1) * comm / v - double(c) * double(pp) * bwd / v);
  return e;
}

PipelineInputs pipeline_inputs(const Strategy& s, const ClusterSpec& cluster, const OpGraph& g,
                               const std::vector<ChunkTotals>& chunks) {
  PipelineInputs in;
  pipeline_inputs(s, cluster, g, chunks, in);
  return in;
}

void pipeline_inputs(const Strategy& s, const ClusterSpec& cluster, const OpGraph& g,
                     const std::vector<ChunkTotals>& chunks, PipelineInputs& in) {
  in.s = &s;
  stage_totals(s, chunks, in.stage);
  in.dp_comm_s.clear();
  in.dp_per_micro_batch_s.clear();
  in.optimizer_s.clear();
  in.drain_stretch_s.clear();
  in.p2p_s = 0;
  const GroupPlacement dp = dp_group(s, cluster), edp = expert_dp_group(s, cluster);
  DpCollectivesPerStage collectives(dp, edp, s);
  for (size_t stage = 0; stage < in.stage.size(); ++stage) {
    const ChunkTotals& st = in.stage[stage];
    const DpCollectives& c = collectives(st);
    const double rs = c.rs.total_s(), ag = c.ag.total_s(), ar = c.ar.total_s();
    const double rs_unit = c.rs_unit.total_s(), ag_unit = c.ag_unit.total_s();
    double bwd = st.bwd_input_s + st.bwd_weight_s + st.recompute_s;
    // The backward the step's reduction (ZeRO 0/1) hides behind. Under ZB-H1 the stages after
    // the first run their deferred W passes in the drain and launch their reduction after the
    // last (align_grad_reduce), about when stage 0 starts its own last W: that W alone is left to
    // hide it.
    const double hide = s.schedule == Schedule::zero_bubble && stage > 0 ? st.bwd_weight_s : bwd;
    double once = 0, per_mb = 0;
    double reduced = 0;  // the step's reduction beside the last backward passes (ZeRO 0/1)
    const bool ov = dp_overlaps(s);
    // A collective of `comm` hidden behind `hide` of compute: its exposed tail, or the SMs it
    // takes from that compute, whichever costs more (beside_compute_s).
    auto beside = [&](double comm, double hide) {
      return beside_compute_s(cluster.gpu, comm, std::max(0.0, comm - hide));
    };
    switch (zero_within_step(s)) {
      case 0:
        once = ov ? beside_compute_s(cluster.gpu, ar, exposed_after_backward(ar, hide, s.vp, s.pp)) : ar;
        reduced = ar;
        break;
      case 1:
        reduced = rs;
        once = ov ? beside_compute_s(cluster.gpu, rs, exposed_after_backward(rs, hide, s.vp, s.pp)) +
                        beside(ag, st.fwd_s)
                  : rs + ag;
        break;
      case 2:  // gradients are sharded, so every micro-batch's gradients are reduce-scattered
        // as its backward produces them, and the backward's end waits for them: DeepSpeed
        // synchronizes the device there (stage_1_and_2.py, independent_gradient_partition_epilogue
        // under overlap_comm), FSDP2 waits on the last reduce-scatter (finalize_backward). So the
        // reduction hides in its own backward only; the next forward does not start beside it.
        // The last unit's reduce-scatter (a block's: FSDP reduces unit by unit) starts after all
        // the compute, so at least that much shows.
        // Under ZB-H1 the gradients come from the W pass, so only it hides their reduction.
        per_mb = ov ? std::max(beside(rs_unit, s.schedule == Schedule::zero_bubble ? st.bwd_weight_s : bwd),
                               rs_unit / double(std::max<int64_t>(1, st.blocks)))
                    : rs_unit;
        once = ov ? beside(ag, st.fwd_s) : ag;
        break;
      default:  // ZeRO-3: gather parameters for forward and backward of every micro-batch
        per_mb = ov ? beside(ag_unit, st.fwd_s) + beside(backward_gathers(s, st) * ag_unit + rs_unit, bwd)
                    : (1 + backward_gathers(s, st)) * ag_unit + rs_unit;
        break;
    }
    if (regathers_before_backward(s) && !ov) {
      per_mb = ag_unit;
    } else if (regathers_before_backward(s)) {
      // The gathers before a backward hide in that backward pass only (FSDP prefetches one unit
      // ahead); under ZB-H1 that pass leaves the weight gradients to the W pass. The last
      // micro-batch's backward carries the step's reduce-scatter beside its gathers.
      const double b_pass = bwd - (s.schedule == Schedule::zero_bubble ? st.bwd_weight_s : 0);
      per_mb = beside(ag_unit, b_pass);
      once = std::max(0.0, beside(ag_unit + rs, bwd) - per_mb) + beside(ag, st.fwd_s);
    }
    in.dp_comm_s.push_back(once);
    in.dp_per_micro_batch_s.push_back(per_mb);
    // The step's reduction beside stage 0's last backward lengthens it as the simulator runs it.
    // The other stages start theirs after their cooldown, on an idle GPU (Megatron-Core's
    // align_grad_reduce: only pipeline rank 0 syncs during its last backward), which stretches
    // nothing the drain waits for.
    const bool first_stage = &st == &in.stage.front();
    in.drain_stretch_s.push_back(ov && first_stage
                                     ? stretch_beside_collective_s(comm_sm_fraction(cluster.gpu), bwd, reduced)
                                     : 0);
    double local = st.dense_params / (s.zero >= 1 ? double(s.dp * s.cp) : 1.0) +
                   st.expert_params / (s.zero >= 1 ? double(s.expert_dp()) : 1.0);
    const bool zg = grads_sharded_in_step(s);
    double grads_held = st.dense_params / (zg ? double(s.dp * s.cp) : 1.0) +
                        st.expert_params / (zg ? double(s.expert_dp()) : 1.0);
    in.optimizer_s.push_back(optimizer_time_s(cluster.gpu, s.precision, state_bytes(s).grads, grads_held, local));
  }
  if (s.pp > 1) {
    const double bytes = max_boundary_bytes(in.stage);
    in.p2p_s = p2p_s(cluster, s.tp * s.cp * s.dp, s.pp, p2p_message_bytes(s, bytes)) +
               p2p_regather_s(s, cluster, bytes);
  }
  (void)g;
}

PipelineResult pipeline_time(const PipelineInputs& in) {
  const Strategy& s = *in.s;
  const double m = double(s.micro_batches()), v = double(s.vp);
  const size_t p = in.stage.size();
  std::vector<double> t(p);
  size_t k = 0;
  double sum = 0;
  for (size_t i = 0; i < p; ++i) {
    const ChunkTotals& x = in.stage[i];
    t[i] = x.fwd_s + x.bwd_input_s + x.bwd_weight_s + x.recompute_s + in.dp_per_micro_batch_s[i];
    sum += t[i];
    if (t[i] > t[k]) k = i;
  }
  double bubble = 0;
  switch (s.schedule) {
    case Schedule::gpipe:
    case Schedule::one_f_one_b: bubble = sum - t[k]; break;
    case Schedule::interleaved: bubble = (sum - t[k]) / v; break;
    case Schedule::zero_bubble: {
      // ZB-H1 (Qi et al. 2023): W passes fill the drain; each other stage leaves F + B - W idle.
      // That takes a deferred W on every stage of the drain, i.e. m >= p: with fewer micro-
      // batches only m - 1 of the p - 1 drain slots have one (equal stages: (p-1)(F+B) -
      // (m-1) W; p = 4, m = 1, F = B = W = 1: step 9, as the simulator plays it).
      const double filled = p > 1 ? std::min(1.0, (m - 1) / double(p - 1)) : 1.0;
      for (size_t i = 0; i < p; ++i) {
        if (i == k) continue;
        const ChunkTotals& x = in.stage[i];
        bubble += std::max(0.0, x.fwd_s + x.bwd_input_s + x.recompute_s - filled * x.bwd_weight_s);
      }
      break;
    }
  }
  PipelineResult r;
  Breakdown& b = r.breakdown;
  const ChunkTotals& x = in.stage[k];
  b.compute_s = m * (x.fwd_s + x.bwd_input_s + x.bwd_weight_s - x.tp_comm_s - x.cp_comm_s - x.ep_comm_s);
  b.recompute_s = m * x.recompute_s;
  b.tp_comm_s = m * x.tp_comm_s;
  b.cp_comm_s = m * x.cp_comm_s;
  b.ep_comm_s = m * x.ep_comm_s;
  b.pp_bubble_s = bubble;
  b.pp_comm_s = p > 1 ? 2 * in.p2p_s * (m * v + double(p) - 1) : 0;
  size_t tail_stage = 0;
  double tail = -1, drain = 0, tail_drain = 0;  // drain: the stretch of the stages after i
  for (size_t i = p; i-- > 0;) {
    double ti = drain + in.dp_comm_s[i] + in.optimizer_s[i];
    if (ti >= tail) tail = ti, tail_stage = i, tail_drain = drain;
    drain += in.drain_stretch_s.empty() ? 0 : in.drain_stretch_s[i];
  }
  // The drain's stretch is the DP reduction's doing: it counts as exposed DP communication.
  b.dp_comm_s = tail_drain + in.dp_comm_s[tail_stage] + m * in.dp_per_micro_batch_s[k];
  b.optimizer_s = in.optimizer_s[tail_stage];
  r.step_s = m * t[k] + bubble + b.pp_comm_s + tail;
  return r;
}

StageCosts make_stage_costs(const Strategy& s, const ClusterSpec& cluster, const OpGraph& g,
                            const std::vector<ChunkTotals>& chunks) {
  StageCosts sc;
  sc.pp = s.pp;
  sc.vp = s.vp;
  sc.micro_batches = s.micro_batches();
  sc.schedule = s.schedule;
  sc.overlap_grad_reduce = dp_overlaps(s);
  sc.comm_sm_fraction = comm_sm_fraction(cluster.gpu);
  sc.chunks.assign(s.pp, std::vector<ChunkCost>(s.vp));
  PipelineInputs in = pipeline_inputs(s, cluster, g, chunks);
  // One stage wherever it is not 1 (DeepSpeed's ZeRO-3 runs without a pipeline).
  sc.backward_gathers = backward_gathers(s, in.stage.front());
  std::vector<StageMemory> mem = stage_memory(s, cluster, g, chunks);
  for (size_t c = 0; c < chunks.size(); ++c) {
    const ChunkTotals& x = chunks[c];
    ChunkCost& cc = sc.chunks[c % s.pp][c / s.pp];
    cc.fwd_s = x.fwd_s;
    cc.bwd_input_s = x.bwd_input_s;
    cc.bwd_weight_s = x.bwd_weight_s;
    cc.recompute_s = x.recompute_s;
    cc.activation_bytes = x.saved_bytes;
    if (s.schedule == Schedule::zero_bubble) cc.w_pending_bytes = x.rebuilt_bytes;
    cc.send_bytes = p2p_message_bytes(s, x.boundary_bytes);
    cc.grad_bytes = (x.dense_params + x.expert_params) * state_bytes(s).grads;
    cc.blocks = std::max<int64_t>(1, x.blocks);
    cc.param_gather_bytes = s.zero == 3 ? gathered_bytes(s, x.dense_params + x.expert_params, x.fp8_weight_params) : 0;
  }
  const GroupPlacement dp = dp_group(s, cluster), edp = expert_dp_group(s, cluster);
  DpCollectivesPerStage collectives(dp, edp, s);
  for (int64_t i = 0; i < s.pp; ++i) {
    const StageMemory& m = mem[i];
    sc.static_bytes.push_back(m.params_bytes + m.grads_bytes + m.optimizer_bytes + m.working_bytes +
                              m.buffers_bytes + m.runtime_bytes);
    sc.optimizer_s.push_back(in.optimizer_s[i]);
    // The simulator overlaps the gradient reduction with the last backward itself (in buckets),
    // so ZeRO 0/1 hand it the whole reduce. ZeRO-1/2's parameter gather follows the optimizer
    // step: what pipeline_inputs() charges of it (the next step's forward hides the rest) runs
    // after the optimizer. ZeRO-2/3's per-micro-batch traffic goes
    // as it is issued: ZeRO-3's all-gather before each gathered pass, ZeRO-2/3's reduce-scatter
    // after each backward; the simulator moves both unit by unit beside the compute, so it works
    // out what compute hides (as it does for the ZeRO 0/1 buckets).
    const ChunkTotals& st = in.stage[i];
    const DpCollectives& c = collectives(st);
    const bool ov = dp_overlaps(s);
    CommTime once, gather, reduce, after;
    switch (zero_within_step(s)) {
      case 0: once = c.ar; break;
      case 1:
        once = c.rs;
        after = ov ? exposed(cluster.gpu, c.ag, st.fwd_s) : c.ag;
        break;
      case 2:
        reduce = c.rs_unit;
        after = ov ? exposed(cluster.gpu, c.ag, st.fwd_s) : c.ag;
        break;
      default:
        gather = c.ag_unit;
        reduce = c.rs_unit;
        break;
    }
    if (regathers_before_backward(s)) gather = c.ag_unit, sc.gather_before_forward = false;
    sc.dp_comm_s.push_back(once.total_s());
    sc.dp_comm_nic_s.push_back(once.nic_s);
    sc.param_gather_s.push_back(gather.total_s());
    sc.param_gather_nic_s.push_back(gather.nic_s);
    sc.grad_reduce_per_mb_s.push_back(reduce.total_s());
    sc.grad_reduce_per_mb_nic_s.push_back(reduce.nic_s);
    sc.param_gather_after_s.push_back(after.total_s());
    sc.param_gather_after_nic_s.push_back(after.nic_s);
  }
  if (cluster.network.size() > 1) {
    const NetworkLevel& l = cluster.network[1];
    sc.nic = Link{l.bandwidth_GBps * 1e9 * l.efficiency, l.latency_us * 1e-6, l.name};
  }
  if (s.pp > 1) {
    const NetworkLevel& l = p2p_level(cluster, s.tp * s.cp * s.dp, s.pp);
    // The receiver's all-gather (no SP) is a fixed time per transfer, as the estimate prices it
    // (for the largest boundary).
    sc.p2p = Link{l.bandwidth_GBps * 1e9 * l.efficiency,
                  l.latency_us * 1e-6 + p2p_regather_s(s, cluster, max_boundary_bytes(chunks)), l.name};
    sc.p2p_on_nic = p2p_crosses_domain(cluster, s.tp * s.cp * s.dp, s.pp);
  }
  const NetworkLevel& dl = *dp.outer;
  sc.dp_link = Link{dl.bandwidth_GBps * 1e9 * dl.efficiency, dl.latency_us * 1e-6, dl.name};
  return sc;
}

}  // namespace shardplan
