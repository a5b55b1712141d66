// Term-by-term comparison of two estimates, and suggestions derived from the closest miss.
#include "planner/explain.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace shardplan {

namespace {
std::string fmt_s(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}
std::string fmt_gb(double b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f GiB", b / (1024.0 * 1024 * 1024));
  return buf;
}
}  // namespace

std::vector<std::string> explain_difference(const Candidate& a, const Candidate& b) {
  const Breakdown& x = a.estimate.breakdown;
  const Breakdown& y = b.estimate.breakdown;
  std::vector<std::pair<double, std::string>> terms = {
      {y.compute_s - x.compute_s, "compute"},       {y.recompute_s - x.recompute_s, "recompute"},
      {y.tp_comm_s - x.tp_comm_s, "TP communication"}, {y.cp_comm_s - x.cp_comm_s, "CP communication"},
      {y.ep_comm_s - x.ep_comm_s, "EP all-to-all"},  {y.pp_comm_s - x.pp_comm_s, "pipeline send/recv"},
      {y.pp_bubble_s - x.pp_bubble_s, "pipeline bubble"}, {y.dp_comm_s - x.dp_comm_s, "exposed DP communication"},
      {y.optimizer_s - x.optimizer_s, "optimizer step"}};
  std::sort(terms.begin(), terms.end(), [](const auto& p, const auto& q) {
    return std::fabs(p.first) > std::fabs(q.first) || (std::fabs(p.first) == std::fabs(q.first) && p.second < q.second);
  });
  std::vector<std::string> out;
  // Re-ranked by the simulator, the order is the simulated one; the terms below stay the estimate's.
  const bool simulated = a.simulated_step_s > 0 && b.simulated_step_s > 0;
  const double total = b.estimate.step_time_s - a.estimate.step_time_s;
  if (!simulated) {
    out.push_back("the best plan is " + fmt_s(total) + " faster per step than the runner-up:");
  } else {
    out.push_back("the best plan is " + fmt_s(b.simulated_step_s - a.simulated_step_s) +
                  " faster per step than the runner-up in the simulator (" + fmt_s(std::fabs(total)) +
                  (total >= 0 ? " faster" : " slower") + " by the estimate, whose terms differ by):");
  }
  for (const auto& [d, name] : terms) {
    if (std::fabs(d) < 1e-3 * std::max(1e-9, a.estimate.step_time_s)) continue;
    out.push_back("  " + name + (d > 0 ? " shorter by " : " longer by ") + fmt_s(std::fabs(d)));
    if (out.size() >= 5) break;
  }
  // Peak memory to the 0.1 GiB printed: an equal peak is said so, not "lower by 0.0 GiB".
  double dm = b.estimate.peak_memory_bytes - a.estimate.peak_memory_bytes;
  if (std::fabs(dm) < 0.05 * 1024.0 * 1024 * 1024) out.push_back("  the same peak memory (" + fmt_gb(a.estimate.peak_memory_bytes) + ")");
  else out.push_back(std::string("  peak memory ") + (dm > 0 ? "lower by " : "higher by ") + fmt_gb(std::fabs(dm)));
  return out;
}

std::vector<std::string> suggest_when_nothing_fits(const SearchResult& r, const ClusterSpec& cluster,
                                                   const SearchOptions& o) {
  std::vector<std::string> out;
  out.push_back("no strategy fits in memory (" + std::to_string(r.considered) + " considered)");
  if (!r.has_closest_oom) {
    out.push_back("no strategy is even valid for this model, GPU count and batch; check the counts per reason");
    return out;
  }
  const Estimate& e = r.closest_oom.estimate;
  const double capacity = cluster.gpu.memory_bytes * (1 - o.memory_headroom);
  double ratio = e.peak_memory_bytes / capacity;
  out.push_back("the closest strategy needs " + fmt_gb(e.peak_memory_bytes) + " per GPU against " + fmt_gb(capacity) +
                " usable (" + std::to_string(int(std::ceil((ratio - 1) * 100))) + "% over)");
  const StageMemory& m = e.stages[static_cast<size_t>(e.peak_stage)];
  double states = m.params_bytes + m.grads_bytes + m.optimizer_bytes;
  if (states > capacity) {
    int64_t more = static_cast<int64_t>(std::ceil(double(o.gpus) * states / (capacity * 0.8)));
    // Already fully sharded (ZeRO-3 without a pipeline): only more GPUs help. Under a pipeline
    // ZeRO-3 holds ZeRO-1's states (grads_sharded_in_step), so it needs --pp 1 to shard them.
    const Strategy& cs = r.closest_oom.strategy;
    const std::string gpus = " or at least ~" + std::to_string(more) + " GPUs";
    if (params_sharded_in_step(cs))
      out.push_back("model states alone exceed a GPU even fully sharded (ZeRO-3): at least ~" + std::to_string(more) +
                    " GPUs");
    else if (cs.zero == 3)
      out.push_back("model states alone exceed a GPU: ZeRO-3 shards them only without a pipeline (--zero 3 --pp 1)," +
                    gpus);
    else
      out.push_back("model states alone exceed a GPU: use ZeRO-3 (--zero 3)," + gpus);
  } else {
    out.push_back("activations dominate: full recompute (--recompute full), a smaller micro-batch, or more pipeline stages");
    out.push_back("or a smaller global batch (now " + std::to_string(o.global_batch) + ")");
  }
  int64_t gpus_needed = static_cast<int64_t>(std::ceil(double(o.gpus) * ratio));
  out.push_back("or about " + std::to_string(gpus_needed) + "+ GPUs with the same strategy shape");
  return out;
}

}  // namespace shardplan
