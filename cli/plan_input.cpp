#include "cli/plan_input.hpp"

#include "core/error.hpp"

namespace shardplan::cli {

LoadedPlan load_plan(const std::string& file) {
  LoadedPlan l{read_plan_file(file), {}, {}};
  l.graph = plan_graph(l.plan, file);
  Estimator est(l.graph, l.plan.cluster, EstimatorOptions{l.plan.allow_tp_across_nodes});
  l.estimate = est.estimate(l.plan.strategy, l.plan.chunk_bounds);
  if (!l.estimate.valid())
    throw InputError(file, "/strategy",
                     std::string("expected a strategy the cost model accepts, found one it rejects (") +
                         reason_name(l.estimate.reason) + "): " + l.estimate.detail);
  return l;
}

}  // namespace shardplan::cli
