// `shardplan estimate`: the analytic prediction of one strategy (a contract: other tools call it).
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/estimate_json.hpp"
#include "cli/strategy_flags.hpp"
#include "core/error.hpp"
#include "costmodel/estimate.hpp"

namespace shardplan::cli {

namespace {
struct EstimateOptions {
  ProblemFlags problem;
  StrategyFlags strategy;
  bool json = false;
};

void run_estimate(const EstimateOptions& o) {
  Problem p = resolve_problem(o.problem);
  Strategy s = resolve_strategy(o.strategy, p);
  Estimator est(p.model.graph, p.cluster, EstimatorOptions{o.problem.allow_tp_across_nodes});
  Estimate e = est.estimate(s);
  if (!e.valid()) throw UsageError(std::string("impossible strategy (") + reason_name(e.reason) + "): " + e.detail);
  if (o.json) std::cout << estimate_json(e, s, p.model.graph).dump(1) << "\n";
  else std::cout << estimate_text(e, s, p.cluster, p.model.graph);
}
}  // namespace

void register_estimate(CLI::App& app) {
  auto o = std::make_shared<EstimateOptions>();
  auto* cmd = app.add_subcommand("estimate", "Predict step time, FLOPs and memory of one strategy");
  add_problem_flags(cmd, o->problem);
  add_strategy_flags(cmd, o->strategy);
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] { run_estimate(*o); });
}

}  // namespace shardplan::cli
