// Reads the finished timeline: per-stage busy/bubble/end times, exposed DP communication, the
// memory timeline and its peak, and (when asked) the trace events with readable names.
#include <fmt/format.h>

#include <algorithm>

#include "simulator/sim_graph.hpp"

namespace shardplan {

const char* sim_stream_name(SimStream s) {
  static const char* n[] = {"compute",     "tp_comm",     "dp_comm",    "pp_send_fwd",
                            "pp_recv_fwd", "pp_send_bwd", "pp_recv_bwd", "dp_reduce"};
  return n[static_cast<int>(s)];
}

namespace detail {
namespace {

std::string layers(const StageCosts& c, int32_t stage, int32_t chunk) {
  const ChunkCost& k = c.chunks[stage][chunk];
  if (k.first_block.empty()) return "";
  if (k.last_block.empty() || k.last_block == k.first_block) return " layers " + k.first_block;
  return " layers " + k.first_block + "-" + k.last_block;
}

std::string task_name(const StageCosts& c, const TaskMeta& m) {
  std::string part = m.parts > 1 ? fmt::format(" part {}/{}", m.part + 1, m.parts) : "";
  switch (m.what) {
    case TaskMeta::pass:
      return fmt::format("{} mb{} chunk{}{}{}", pass_kind_name(m.kind), m.micro_batch, m.chunk,
                         layers(c, m.stage, m.chunk), part);
    case TaskMeta::recompute:
      return fmt::format("R mb{} chunk{}{}{}", m.micro_batch, m.chunk, layers(c, m.stage, m.chunk), part);
    case TaskMeta::optimizer:
      return "optimizer";
    case TaskMeta::gather:
      if (m.micro_batch < 0) return "all-gather updated params";
      return fmt::format("all-gather params for {} mb{} chunk{}{}", pass_kind_name(m.kind),
                         m.micro_batch, m.chunk, part);
    case TaskMeta::grad_reduce: {
      const std::string mb = m.micro_batch >= 0 ? fmt::format(" mb{}", m.micro_batch) : "";
      return fmt::format("reduce grads{} chunk{}{}", mb, m.chunk,
                         m.parts > 1 ? fmt::format(" bucket {}/{}", m.part + 1, m.parts) : "");
    }
    case TaskMeta::p2p_fwd:
    case TaskMeta::p2p_bwd:
      return fmt::format("{} mb{} chunk{} stage {}->{}",
                         m.what == TaskMeta::p2p_fwd ? "send act" : "send grad", m.micro_batch,
                         m.chunk, m.stage, m.peer_stage);
  }
  return "";
}

struct StageStats {
  double busy = 0, first = 0, end = 0, last_pass_end = 0, exposed_dp = 0;
  double peak = 0, peak_t = 0;
};

StageStats stage_stats(const StageCosts& c, const SimGraph& g, int64_t gpu, int32_t stage,
                       std::vector<MemorySample>* samples) {
  const SimEngine& e = g.engine;
  StageStats st;
  auto compute = e.stream_tasks(g.stream(gpu, SimStream::compute));
  if (!compute.empty()) st.first = e.start_s(compute.front());
  double bytes = at_or_zero(c.static_bytes, stage);
  st.peak = bytes;
  if (samples) samples->push_back({gpu, 0.0, bytes});
  // The compute stream runs its tasks in order, so walking it visits allocations (at each F's
  // start) and frees (at the end of the pass marked `frees`) in time order; at equal times the
  // earlier task's free comes first, as on the GPU.
  for (TaskId t : compute) {
    const double s = e.start_s(t), f = e.end_s(t);
    const TaskMeta& m = g.meta[t];
    st.busy += f - s;
    st.end = std::max(st.end, f);
    if (m.what != TaskMeta::optimizer) st.last_pass_end = f;
    if (m.what != TaskMeta::pass) continue;
    const double act = c.chunks[stage][m.chunk].activation_bytes;
    if (m.kind == Pass::F && m.part == 0 && act > 0) {  // a split F allocates at its start
      bytes += act;
      if (bytes > st.peak) st.peak = bytes, st.peak_t = s;
      if (samples) samples->push_back({gpu, s, bytes});
    }
    // A B pass whose W is deferred keeps what it rebuilt (w_pending_bytes) until the W frees it.
    const double pending = c.chunks[stage][m.chunk].w_pending_bytes;
    if (m.kind == Pass::B && !m.frees && m.part + 1 == std::max<int16_t>(m.parts, 1) && pending > 0) {
      bytes += pending;
      if (bytes > st.peak) st.peak = bytes, st.peak_t = f;
      if (samples) samples->push_back({gpu, f, bytes});
    }
    if (m.frees && (act > 0 || (m.kind == Pass::W && pending > 0))) {
      bytes -= act + (m.kind == Pass::W ? pending : 0);
      if (samples) samples->push_back({gpu, f, bytes});
    }
  }
  double last_reduce = -1, after_optimizer = -1;
  for (SimStream k : {SimStream::dp_comm, SimStream::dp_reduce})
    for (TaskId t : e.stream_tasks(g.stream(gpu, k))) {
      const TaskMeta& m = g.meta[t];
      if (m.what == TaskMeta::grad_reduce) last_reduce = std::max(last_reduce, e.end_s(t));
      // ZeRO-1/2's parameter gather after the optimizer (the only DP task not tied to a pass):
      // the step ends when the updated parameters are whole again.
      if (m.what == TaskMeta::gather && m.micro_batch < 0) after_optimizer = std::max(after_optimizer, e.end_s(t));
    }
  if (last_reduce >= 0) st.exposed_dp = std::max(0.0, last_reduce - st.last_pass_end);
  if (after_optimizer > st.end) st.exposed_dp += after_optimizer - st.end, st.end = after_optimizer;
  return st;
}

}  // namespace

void collect_results(const StageCosts& c, const SimOptions& o, const SimGraph& g, SimResult& out) {
  const int64_t pp = g.pp;
  out.gpus = g.replicas * pp;
  for (auto* v : {&out.end_s, &out.busy_s, &out.bubble_s, &out.exposed_dp_comm_per_stage_s,
                  &out.peak_memory_bytes, &out.peak_time_s})
    v->assign(pp, 0.0);
  for (int64_t r = 0; r < g.replicas; ++r)
    for (int64_t s = 0; s < pp; ++s) {
      StageStats st = stage_stats(c, g, r * pp + s, static_cast<int32_t>(s),
                                  o.record_trace ? &out.memory : nullptr);
      if (r == 0) {
        out.end_s[s] = st.end;
        out.busy_s[s] = st.busy;
        out.bubble_s[s] = (st.end - st.first) - st.busy;
        out.exposed_dp_comm_per_stage_s[s] = st.exposed_dp;
      }
      if (r == 0 || st.peak > out.peak_memory_bytes[s])
        out.peak_memory_bytes[s] = st.peak, out.peak_time_s[s] = st.peak_t;
    }
  out.critical_stage = std::max_element(out.end_s.begin(), out.end_s.end()) - out.end_s.begin();
  out.step_time_s = out.end_s[out.critical_stage];
  out.exposed_dp_comm_s = out.exposed_dp_comm_per_stage_s[out.critical_stage];
  if (out.step_time_s > 0)
    out.idle_fraction = (out.step_time_s - out.busy_s[out.critical_stage]) / out.step_time_s;
  if (!o.record_trace) return;
  const SimEngine& e = g.engine;
  out.trace.reserve(e.task_count());
  for (TaskId t = 0; t < static_cast<TaskId>(e.task_count()); ++t) {
    if (g.meta[t].barrier) continue;
    std::string name = task_name(c, g.meta[t]);
    for (StreamId sid : e.task_streams(t))
      out.trace.push_back({sid / kSimStreams, static_cast<SimStream>(sid % kSimStreams), name,
                           e.start_s(t), e.end_s(t) - e.start_s(t)});
  }
}

}  // namespace detail
}  // namespace shardplan
