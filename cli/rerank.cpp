// Simulates each of the top K strategies and re-sorts them by simulated step time (for the time
// and cost objectives: one search has one GPU count, so GPU-seconds per token order as step
// time), ties broken by the planner's total order.
#include "cli/rerank.hpp"

#include <algorithm>

#include "simulator/simulate.hpp"

namespace shardplan::cli {

void rerank_with_simulator(std::vector<Candidate>& top, const OpGraph& g, const ClusterSpec& cluster,
                           Objective objective, size_t keep, const std::function<void(double)>& progress) {
  Estimator est(g, cluster, EstimatorOptions{true});
  for (size_t i = 0; i < top.size(); ++i) {
    Candidate& c = top[i];
    SimResult r = simulate(est.stage_costs(c.strategy, c.estimate.chunk_bounds));
    c.simulated_step_s = r.error.empty() ? r.step_time_s : c.estimate.step_time_s;
    if (progress) progress(double(i + 1) / double(top.size()));
  }
  if (objective != Objective::memory)
    std::stable_sort(top.begin(), top.end(), [](const Candidate& a, const Candidate& b) {
      if (a.simulated_step_s != b.simulated_step_s) return a.simulated_step_s < b.simulated_step_s;
      return candidate_less(a, b);
    });
  if (top.size() > keep) top.resize(keep);
}

}  // namespace shardplan::cli
