// Builds the task graph of one training step from StageCosts and a schedule, runs it on the
// engine, and hands the timeline to sim_results.cpp. Dependencies follow the model order: chunk v
// of stage s is model position v * pp + s; activations flow up the positions, gradients down.
#include "simulator/simulate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <utility>

#include "simulator/sim_graph.hpp"

namespace shardplan {
namespace detail {
namespace {

class Builder {
 public:
  Builder(const StageCosts& c, const SimOptions& o, SimGraph& g) : c_(c), o_(o), g_(g) {}

  void build() {
    const int64_t reps = g_.replicas, n = reps * c_.pp * c_.vp * c_.micro_batches;
    f_first_.assign(n, -1);
    f_end_.assign(n, -1);
    b_first_.assign(n, -1);
    b_end_.assign(n, -1);
    g_.engine.reserve(static_cast<size_t>(n * 5 + reps * c_.pp * 4), static_cast<size_t>(n * 5));
    g_.meta.reserve(static_cast<size_t>(n * 5 + reps * c_.pp * 4));
    for (int64_t gpu = 0; gpu < reps * c_.pp; ++gpu)
      for (int k = 0; k < kSimStreams; ++k) g_.engine.add_stream();
    // Each simulated GPU sends through its own NIC (DP and ZeRO traffic that leaves the NVLink
    // domain, and p2p when stages sit in different domains) and its own NVLink port (p2p inside
    // the domain). Only the sending side is modelled: a ring collective sends as much as it
    // receives, and a stage receives no more than its neighbour sends.
    const int64_t gpus = reps * c_.pp;
    p2p_on_nic_ = c_.p2p_on_nic && c_.nic.bandwidth_Bps > 0;
    for (int64_t gpu = 0; gpu < gpus && c_.nic.bandwidth_Bps > 0; ++gpu)
      nic_.push_back(g_.engine.add_link(c_.nic.bandwidth_Bps));
    for (int64_t gpu = 0; gpu < gpus && c_.pp > 1 && !p2p_on_nic_; ++gpu)
      nvlink_.push_back(g_.engine.add_link(c_.p2p.bandwidth_Bps));
    for (int64_t s = 0; s < c_.pp; ++s) build_stage(s);
    for (int64_t s = 0; s < c_.pp; ++s) build_transfers(s);
  }

 private:
  size_t idx(int64_t r, int64_t s, int64_t v, int64_t mb) const {
    return static_cast<size_t>(((r * c_.pp + s) * c_.vp + v) * c_.micro_batches + mb);
  }
  TaskId add(int64_t gpu, SimStream k, double dur, const TaskMeta& m) {
    g_.meta.push_back(m);
    const TaskId t = g_.engine.add_task(g_.stream(gpu, k), dur);
    if (k == SimStream::compute) {  // the compute stream's order, for blocking sends
      if (last_compute_.size() <= static_cast<size_t>(gpu)) last_compute_.resize(gpu + 1, -1);
      if (next_compute_.size() <= static_cast<size_t>(t)) next_compute_.resize(t + 1, -1);
      if (const TaskId prev = last_compute_[gpu]; prev >= 0) next_compute_[prev] = t;
      last_compute_[gpu] = t;
    }
    return t;
  }
  // DP-group work of stage s on `stream` (dp_comm or dp_reduce) taking dur_s alone, nic_s of it
  // moving bytes through each GPU's NIC.
  // One replica: a task on its dp stream, or a flow on its NIC when nic_s > 0. Full mode: a
  // collective over the dp streams of all replicas, starting when every one of them is ready; with
  // nic_s > 0 each replica's share is a flow on its own NIC between two zero-time barriers, so the
  // collective ends when its slowest member does (a ring moves at its slowest link's pace).
  // Returns the first task (to depend on) and the last (for others to wait on).
  std::pair<TaskId, TaskId> add_dp(int64_t s, SimStream stream, double dur_s, double nic_s,
                                   const TaskMeta& m) {
    const double bytes = nic_s * c_.nic.bandwidth_Bps, fixed_s = std::max(0.0, dur_s - nic_s);
    auto flow = [&](int64_t gpu) {
      g_.meta.push_back(m);
      const StreamId st = g_.stream(gpu, stream);
      return g_.engine.add_flow(std::span(&st, 1), nic_[gpu], bytes, fixed_s);
    };
    if (g_.replicas == 1) {
      TaskId t = nic_s > 0 ? flow(s) : add(s, stream, dur_s, m);
      return {t, t};
    }
    streams_.clear();
    for (int64_t r = 0; r < g_.replicas; ++r)
      streams_.push_back(g_.stream(r * c_.pp + s, stream));
    TaskMeta barrier = m;
    barrier.barrier = true;
    g_.meta.push_back(nic_s > 0 ? barrier : m);
    const TaskId first = g_.engine.add_collective(streams_, nic_s > 0 ? 0.0 : dur_s);
    if (nic_s <= 0) return {first, first};
    // Stream order puts each flow after the first barrier and the last barrier after every flow.
    for (int64_t r = 0; r < g_.replicas; ++r) flow(r * c_.pp + s);
    g_.meta.push_back(barrier);
    return {first, g_.engine.add_collective(streams_, 0.0)};
  }

  void build_stage(int64_t s);
  void build_transfers(int64_t s);

  const StageCosts& c_;
  const SimOptions& o_;
  SimGraph& g_;
  // [replica][stage][chunk][micro-batch]: a pass's first and last compute pieces
  std::vector<TaskId> f_first_, f_end_, b_first_, b_end_;
  std::vector<TaskId> next_compute_, last_compute_;  // by task id; by GPU
  std::vector<LinkId> nic_, nvlink_;             // per simulated GPU (sending side)
  bool p2p_on_nic_ = false;
  std::vector<StreamId> streams_;
};

void Builder::build_stage(int64_t s) {
  const auto& sched = g_.schedule[s];
  const int64_t reps = g_.replicas, vp = c_.vp, n_passes = static_cast<int64_t>(sched.size());
  const bool zb = c_.schedule == Schedule::zero_bubble;
  // W passes exist only under ZB-H1 and where the chunk has a weight-gradient part; otherwise B
  // carries the whole backward and the schedule's W entries are dropped.
  std::vector<char> has_w(vp);
  double grad_total = 0;
  for (int64_t v = 0; v < vp; ++v) {
    has_w[v] = zb && c_.chunks[s][v].bwd_weight_s > 0;
    grad_total += c_.chunks[s][v].grad_bytes;
  }
  std::vector<int64_t> last_bwd(vp, -1);  // index of the chunk's last backward (B, or W)
  for (int64_t i = 0; i < n_passes; ++i) {
    const Pass& p = sched[i];
    if ((p.kind == Pass::B && !has_w[p.chunk]) || (p.kind == Pass::W && has_w[p.chunk]))
      last_bwd[p.chunk] = i;
  }
  const double dp_s = at_or_zero(c_.dp_comm_s, s), gather_s = at_or_zero(c_.param_gather_s, s);
  const double dp_nic_s = at_or_zero(c_.dp_comm_nic_s, s);
  const double gather_nic_s = at_or_zero(c_.param_gather_nic_s, s);
  const double rs_s = at_or_zero(c_.grad_reduce_per_mb_s, s);
  const double rs_nic_s = at_or_zero(c_.grad_reduce_per_mb_nic_s, s);
  const bool overlap = c_.overlap_grad_reduce;
  // The chunk's part of the stage's DP reduction time (once per step, and per micro-batch under
  // ZeRO-2/3), and of their NIC time.
  std::vector<double> share(vp), nic_share(vp), rs_share(vp), rs_nic_share(vp);
  for (int64_t v = 0; v < vp; ++v) {
    const double f = grad_total > 0 ? c_.chunks[s][v].grad_bytes / grad_total : 1.0 / vp;
    share[v] = dp_s * f, nic_share[v] = dp_nic_s * f;
    rs_share[v] = rs_s * f, rs_nic_share[v] = rs_nic_s * f;
  }

  // ZeRO-2/3 move parameters and gradients unit by unit as FSDP does (a unit per block, at most
  // max_units_per_pass per pass): ZeRO-3 all-gathers a unit's parameters before every F
  // and B pass runs it (B only when the costs say so), ZeRO-2/3 reduce-scatter a unit's gradients
  // once its backward has produced them, every micro-batch. Gathered and reducing passes run unit
  // by unit. With overlap each unit's gather is issued one unit ahead and may start once the unit
  // `window` before it has run (the buffers it reuses); without, each waits for the compute
  // before it. The stage's per-pass gather is shared among its chunks by their parameters, its
  // per-micro-batch reduction by their gradients.
  int64_t min_blocks = c_.chunks[s][0].blocks;
  for (int64_t v = 1; v < vp; ++v) min_blocks = std::min(min_blocks, c_.chunks[s][v].blocks);
  const int64_t K = std::clamp<int64_t>(min_blocks, 1, o_.max_units_per_pass);
  double gather_bytes = 0;
  for (int64_t v = 0; v < vp; ++v) gather_bytes += c_.chunks[s][v].param_gather_bytes;
  // The pass's part of the stage's per-pass gather: its chunk's parameter share, times the
  // gathers a B pass makes (StageCosts::backward_gathers).
  auto gather_share = [&](const Pass& p) {
    return (gather_bytes > 0 ? c_.chunks[s][p.chunk].param_gather_bytes / gather_bytes : 1.0 / double(vp)) *
           (p.kind == Pass::B ? c_.backward_gathers : 1.0);
  };
  auto is_gathered = [&](const Pass& p) {
    return gather_s > 0 && (p.kind == Pass::B || (p.kind == Pass::F && c_.gather_before_forward));
  };
  auto frees = [&](const Pass& p) {
    return (p.kind == Pass::B && !has_w[p.chunk]) || (p.kind == Pass::W && has_w[p.chunk]);
  };
  std::vector<int64_t> gathered_pass;  // schedule index of each gathered pass, in order
  for (int64_t i = 0; i < n_passes; ++i)
    if (is_gathered(sched[i])) gathered_pass.push_back(i);
  const int64_t units = static_cast<int64_t>(gathered_pass.size()) * K;
  std::vector<std::pair<TaskId, TaskId>> gather(units, {-1, -1});  // first and last task
  std::vector<TaskId> unit_end(reps * units, -1);                    // each unit's compute
  auto add_gather = [&](int64_t u) {
    const Pass& p = sched[gathered_pass[u / K]];
    const double f = gather_share(p);
    TaskMeta m = make_meta(TaskMeta::gather, p.kind, s, p.micro_batch, p.chunk);
    m.part = static_cast<int16_t>(u % K), m.parts = static_cast<int16_t>(K);
    gather[u] = add_dp(s, SimStream::dp_comm, f * gather_s / K, f * gather_nic_s / K, m);
  };
  // Gathered units in flight: FSDP's two unit buffers.
  const int64_t window = 2;
  if (units > 0 && overlap) add_gather(0);

  std::vector<TaskId> last(reps, -1), pieces, wait_for;  // wait_for: reductions compute waits on
  // Each unit's reduce-scatter, in order: a unit's backward waits for the reduce-scatter two
  // units before it (FSDP2's post-backward waits on the previous reduce-scatter's event before
  // issuing its own; DeepSpeed's reduction buffers are double), so at most two units' unsharded
  // gradients are alive.
  std::vector<TaskId> rs_units;
  TaskId last_dp = -1, last_rs = -1;  // the last reduction once per step and per micro-batch
  int64_t u = 0;  // gathered units issued to compute so far
  for (int64_t i = 0; i < n_passes; ++i) {
    const Pass& p = sched[i];
    const ChunkCost& cc = c_.chunks[s][p.chunk];
    if (p.kind == Pass::W && !has_w[p.chunk]) continue;
    const bool gathers = is_gathered(p);
    const bool reduces = rs_s > 0 && frees(p);                           // every micro-batch
    // The step's reduction of the chunk (ZeRO 0/1), once, as Megatron-Core runs it by default
    // (align_grad_reduce, schedules.py): pipeline stage 0 without interleaving reduces its buckets
    // beside its last backward; every other chunk's reduction is launched whole once its last
    // backward is done (grad_sync_func; the extra delay of pipeline rank r steps under
    // interleaving is not modelled).
    const bool last_of_chunk = overlap && dp_s > 0 && i == last_bwd[p.chunk] && share[p.chunk] > 0;
    const bool split = last_of_chunk && s == 0 && c_.vp == 1;
    const bool after = last_of_chunk && !split;
    const int64_t parts = gathers || reduces ? K : split ? std::max(o_.grad_buckets_per_chunk, K) : 1;
    const double alone = p.kind == Pass::F   ? cc.fwd_s
                         : p.kind == Pass::W ? cc.bwd_weight_s
                         : has_w[p.chunk]    ? cc.bwd_input_s
                                             : cc.bwd_input_s + cc.bwd_weight_s;
    // With overlap the collectives issued beside this pass hold comm_sm_fraction k of the SMs
    // while they run, which lengthens it by k times the part of them it overlaps: the step's
    // reduction of the chunk's gradients beside its last backward (at most the whole pass at the
    // reduced rate, as beside_collective has it: it may outlast the pass); a unit's reduce-scatter
    // beside the backward that frees it and the next forward, and the gathers beside the pass
    // before the one they feed (each counted whole, on the pass it comes from or feeds: the same
    // total).
    double stretch = 0;
    const double k = overlap ? c_.comm_sm_fraction : 0;
    if (k > 0 && k < 1) {
      if (split) stretch += stretch_beside_collective_s(k, alone, share[p.chunk]);
      if (reduces) stretch += k * rs_share[p.chunk];
      if (gathers)
        stretch += k * gather_share(p) * gather_s;
    }
    const double dur = alone + stretch;
    // Recomputation runs with the backward, unit by unit when the pass is split.
    const double re = p.kind == Pass::B ? cc.recompute_s : 0;
    pieces.assign(reps * parts, -1);
    for (int64_t k = 0; k < parts; ++k) {
      if (gathers && !overlap) {  // after the compute and the reduction before it
        add_gather(u + k);
        for (int64_t r = 0; r < reps; ++r)
          if (last[r] >= 0) g_.engine.add_dep(last[r], gather[u + k].first);
        for (TaskId w : wait_for) g_.engine.add_dep(w, gather[u + k].first);
      }
      for (int64_t r = 0; r < reps; ++r) {
        const int64_t gpu = r * c_.pp + s;
        TaskMeta m = make_meta(TaskMeta::pass, p.kind, s, p.micro_batch, p.chunk);
        m.parts = static_cast<int16_t>(parts);
        m.part = static_cast<int16_t>(k);
        TaskId first = -1;
        if (re > 0) {
          TaskMeta rm = m;
          rm.what = TaskMeta::recompute;
          first = add(gpu, SimStream::compute, re / static_cast<double>(parts), rm);
        }
        m.frees = frees(p) && k + 1 == parts;
        TaskId t = add(gpu, SimStream::compute, dur / static_cast<double>(parts), m);
        if (first < 0) first = t;
        if (gathers) g_.engine.add_dep(gather[u + k].second, first);
        for (TaskId w : wait_for) g_.engine.add_dep(w, first);
        if (reduces && rs_units.size() >= 2) g_.engine.add_dep(rs_units[rs_units.size() - 2], first);
        if (gathers) unit_end[r * units + u + k] = t;
        pieces[r * parts + k] = last[r] = t;
        const size_t x = idx(r, s, p.chunk, p.micro_batch);
        if (k == 0 && p.kind == Pass::F) f_first_[x] = first;
        if (k == 0 && p.kind == Pass::B) b_first_[x] = first;
        if (p.kind == Pass::F) f_end_[x] = t;
        if (p.kind == Pass::B) b_end_[x] = t;
      }
      wait_for.clear();
      if (gathers && overlap && u + k + 1 < units) {
        add_gather(u + k + 1);
        if (const int64_t held = u + k + 1 - window; held >= 0)
          for (int64_t r = 0; r < reps; ++r)
            g_.engine.add_dep(unit_end[r * units + held], gather[u + k + 1].first);
      }
      // The unit's gradients: reduce-scattered every micro-batch (ZeRO-2/3), in turn with the
      // gathers on one stream (two streams would overlap their latencies and in-node phases,
      // which the estimate adds); without overlap the compute waits for it. And the step's
      // bucket (ZeRO 0/1, the last backward, overlapped) on a stream of its own.
      auto reduce_piece = [&](SimStream stream, double dur_s, double nic_s) {
        TaskMeta m = make_meta(TaskMeta::grad_reduce, p.kind, s, reduces ? p.micro_batch : -1, p.chunk);
        m.part = static_cast<int16_t>(k);
        m.parts = static_cast<int16_t>(parts);
        const double n = static_cast<double>(parts);
        auto [first, done] = add_dp(s, stream, dur_s / n, nic_s / n, m);
        for (int64_t r = 0; r < reps; ++r) g_.engine.add_dep(pieces[r * parts + k], first);
        return done;
      };
      if (reduces) {
        last_rs = reduce_piece(SimStream::dp_comm, rs_share[p.chunk], rs_nic_share[p.chunk]);
        rs_units.push_back(last_rs);
        // Without overlap each unit's compute waits for the reduce-scatter before it; with, the
        // backward's end does (DeepSpeed synchronizes the device after each backward, FSDP2's
        // finalize_backward waits on the last reduce-scatter): the next pass starts after it.
        if (!overlap || k + 1 == parts) wait_for.assign(1, last_rs);
      }
      if (split) last_dp = reduce_piece(SimStream::dp_reduce, share[p.chunk], nic_share[p.chunk]);
    }
    if (after) {
      auto [first, done] = add_dp(s, SimStream::dp_reduce, share[p.chunk], nic_share[p.chunk],
                                  make_meta(TaskMeta::grad_reduce, p.kind, s, -1, p.chunk));
      for (int64_t r = 0; r < reps; ++r) g_.engine.add_dep(last[r], first);
      last_dp = done;
    }
    if (gathers) u += parts;
  }
  if (dp_s > 0 && !overlap)  // without overlap: every chunk's reduction after all compute
    for (int64_t v = 0; v < vp; ++v) {
      if (share[v] <= 0) continue;
      auto [first, done] = add_dp(s, SimStream::dp_reduce, share[v], nic_share[v],
                                  make_meta(TaskMeta::grad_reduce, Pass::B, s, -1, v));
      last_dp = done;
      for (int64_t r = 0; r < reps; ++r)
        if (last[r] >= 0) g_.engine.add_dep(last[r], first);
    }
  std::vector<TaskId> optimizer(reps);
  for (int64_t r = 0; r < reps; ++r) {
    TaskId t = add(r * c_.pp + s, SimStream::compute, at_or_zero(c_.optimizer_s, s),
                   make_meta(TaskMeta::optimizer, Pass::F, s, -1, -1));
    if (last_dp >= 0) g_.engine.add_dep(last_dp, t);
    if (last_rs >= 0) g_.engine.add_dep(last_rs, t);
    optimizer[r] = t;
  }
  // ZeRO-1/2: the updated parameters' all-gather (its part the next forward does not hide).
  if (const double ag = at_or_zero(c_.param_gather_after_s, s); ag > 0) {
    auto [first, done] = add_dp(s, SimStream::dp_comm, ag, at_or_zero(c_.param_gather_after_nic_s, s),
                                make_meta(TaskMeta::gather, Pass::F, s, -1, -1));
    for (TaskId t : optimizer) g_.engine.add_dep(t, first);
  }
}

// p2p: each F output goes to the next model position, each B's input gradient to the previous
// one. Issued in the sender's pass order; the receiver consumes them in the same order (its
// schedule lists the same micro-batch/chunk sequence), so the two FIFO streams always agree. The
// receiver's pass starts (its first piece) once the transfer has landed. The sender's next
// compute waits for its send to finish: Megatron-LM's pipeline schedules exchange activations and
// gradients with batched isend/irecv that the schedule waits on before it goes on
// (p2p_communication.py; the 1F1B steady state's send_forward_recv_backward), as the analytic
// estimate's exposed 2 * p2p per micro-batch and chunk assumes.
void Builder::build_transfers(int64_t s) {
  const int64_t pp = c_.pp, positions = pp * c_.vp;
  for (const Pass& p : g_.schedule[s]) {
    if (p.kind == Pass::W) continue;
    const int64_t j = p.chunk * pp + s;
    const bool fwd = p.kind == Pass::F;
    if ((fwd && j == positions - 1) || (!fwd && j == 0)) continue;
    const int64_t s2 = fwd ? (s + 1) % pp : (s + pp - 1) % pp;
    const int64_t c2 = fwd ? p.chunk + (s == pp - 1) : p.chunk - (s == 0);
    const double bytes = fwd ? c_.chunks[s][p.chunk].send_bytes : c_.chunks[s2][c2].send_bytes;
    for (int64_t r = 0; r < g_.replicas; ++r) {
      TaskId from = fwd ? f_end_[idx(r, s, p.chunk, p.micro_batch)]
                        : b_end_[idx(r, s, p.chunk, p.micro_batch)];
      TaskId to =
          fwd ? f_first_[idx(r, s2, c2, p.micro_batch)] : b_first_[idx(r, s2, c2, p.micro_batch)];
      if (pp == 1) {  // the next chunk is on the same GPU
        g_.engine.add_dep(from, to);
        continue;
      }
      const int64_t gpu = r * pp + s, gpu2 = r * pp + s2;
      TaskMeta m =
          make_meta(fwd ? TaskMeta::p2p_fwd : TaskMeta::p2p_bwd, p.kind, s, p.micro_batch, p.chunk);
      m.peer_stage = static_cast<int32_t>(s2);
      g_.meta.push_back(m);
      // On the NIC, bytes are scaled to its bandwidth so that alone the transfer still takes
      // bytes / p2p bandwidth (the p2p level may be slower than the NIC, e.g. a spine).
      TaskId x = g_.engine.add_transfer(
          g_.stream(gpu, fwd ? SimStream::pp_send_fwd : SimStream::pp_send_bwd),
          g_.stream(gpu2, fwd ? SimStream::pp_recv_fwd : SimStream::pp_recv_bwd),
          p2p_on_nic_ ? nic_[gpu] : nvlink_[gpu],
          p2p_on_nic_ && bytes > 0 ? bytes * (c_.nic.bandwidth_Bps / c_.p2p.bandwidth_Bps) : bytes,
          c_.p2p.latency_s);
      g_.engine.add_dep(from, x);
      g_.engine.add_dep(x, to);
      if (const TaskId next = next_compute_[from]; next >= 0) g_.engine.add_dep(x, next);
    }
  }
}

}  // namespace

std::string build_graph(const StageCosts& costs, const SimOptions& options, SimGraph& g) {
  if (auto e = check_costs(costs, options); !e.empty()) return e;
  g.pp = costs.pp;
  g.vp = costs.vp;
  g.micro_batches = costs.micro_batches;
  g.replicas = options.full ? options.dp : 1;
  g.schedule = make_schedule(costs.schedule, costs.pp, costs.vp, costs.micro_batches);
  Builder(costs, options, g).build();
  return "";
}

}  // namespace detail

SimResult simulate(const StageCosts& costs, const SimOptions& options) {
  SimResult out;
  detail::SimGraph g;
  out.error = detail::build_graph(costs, options, g);
  if (!out.error.empty()) return out;
  EngineRun run = g.engine.run();
  if (!run.ok) {  // cannot happen for the schedules above; kept as a value, not an abort
    out.error = fmt::format("simulation deadlocked: task {} never ran", run.stuck_task);
    return out;
  }
  out.events = run.events;
  out.tasks = static_cast<int64_t>(g.engine.task_count());
  detail::collect_results(costs, options, g, out);
  return out;
}

}  // namespace shardplan
