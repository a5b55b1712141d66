// Term-by-term comparison of two estimates: why the best plan wins over the runner-up.
#include "planner/explain.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace shardplan {

namespace {
// Seconds to three decimals in the unit that shows them (a 2 ms step's terms are not "0.000 s").
std::string fmt_s(double s) {
  char buf[64];
  const double a = std::fabs(s);
  if (a >= 0.00995 || a == 0) std::snprintf(buf, sizeof buf, "%.3f s", s);  // what prints as 0.010 s or more
  else if (a >= 1e-4) std::snprintf(buf, sizeof buf, "%.3f ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  return buf;
}
std::string fmt_gb(double b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f GiB", b / (1024.0 * 1024 * 1024));
  return buf;
}
}  // namespace

namespace {
// Under the memory objective: the stage-memory terms of the two peaks that differ, largest first.
std::vector<std::string> explain_memory(const Candidate& a, const Candidate& b) {
  const Estimate& x = a.estimate;
  const Estimate& y = b.estimate;
  const StageMemory& p = x.stages.empty() ? StageMemory{} : x.stages[static_cast<size_t>(x.peak_stage)];
  const StageMemory& q = y.stages.empty() ? StageMemory{} : y.stages[static_cast<size_t>(y.peak_stage)];
  std::vector<std::pair<double, std::string>> terms = {
      {q.params_bytes - p.params_bytes, "weights"},          {q.grads_bytes - p.grads_bytes, "gradients"},
      {q.optimizer_bytes - p.optimizer_bytes, "optimizer states"},
      {q.activations_bytes - p.activations_bytes, "activations"}, {q.working_bytes - p.working_bytes, "working memory"},
      {q.buffers_bytes - p.buffers_bytes, "buffers"},        {q.runtime_bytes - p.runtime_bytes, "runtime allowance"}};
  std::stable_sort(terms.begin(), terms.end(),
                   [](const auto& u, const auto& v) { return std::fabs(u.first) > std::fabs(v.first); });
  const double dt = y.step_time_s - x.step_time_s;
  std::vector<std::string> out = {"the best plan needs " + fmt_gb(y.peak_memory_bytes - x.peak_memory_bytes) +
                                  " less per GPU than the runner-up at its peak stage (and is " + fmt_s(std::fabs(dt)) +
                                  (dt >= 0 ? " faster" : " slower") + " per step):"};
  for (const auto& [d, name] : terms) {
    if (std::fabs(d) < 0.05 * 1024.0 * 1024 * 1024) continue;
    out.push_back("  " + name + (d > 0 ? " smaller by " : " larger by ") + fmt_gb(std::fabs(d)));
    if (out.size() >= 5) break;
  }
  return out;
}
}  // namespace

std::vector<std::string> explain_difference(const Candidate& a, const Candidate& b, Objective objective) {
  if (objective == Objective::memory) return explain_memory(a, b);
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

}  // namespace shardplan
