// `shardplan compare`: several strategies side by side, each with its full breakdown.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/estimate_json.hpp"
#include "cli/format.hpp"
#include "cli/strategy_flags.hpp"
#include "core/error.hpp"
#include "costmodel/estimate.hpp"

namespace shardplan::cli {

namespace {
struct CompareOptions {
  ProblemFlags problem;
  std::vector<std::string> strategies;
  bool json = false;
};

Strategy strategy_from_string(const std::string& text, const Problem& p) {
  Strategy base;
  base.global_batch = p.global_batch;
  base.precision = p.precision;
  base.grad_reduce = p.grad_reduce;
  base.seq_len = p.model.graph.seq_len;
  base.dp = 0;  // marks "not given"
  Strategy s = parse_strategy_string(text, base);
  const int64_t dp = data_parallel_size(p.gpus, s.tp, s.pp, s.cp, "strategy \"" + text + "\": ");
  if (s.dp == 0) s.dp = dp;
  if (s.vp > 1 && text.find("schedule=") == std::string::npos) s.schedule = Schedule::interleaved;
  return s;
}

void run_compare(const CompareOptions& o) {
  Problem p = resolve_problem(o.problem);
  Estimator est(p.model.graph, p.cluster, EstimatorOptions{o.problem.allow_tp_across_nodes});
  std::vector<Strategy> ss;
  std::vector<Estimate> es;
  for (const auto& text : o.strategies) {
    ss.push_back(strategy_from_string(text, p));
    es.push_back(est.estimate(ss.back()));
    if (!es.back().valid())
      throw UsageError("strategy \"" + text + "\" is impossible (" + reason_name(es.back().reason) + "): " + es.back().detail);
  }
  if (o.json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (size_t i = 0; i < ss.size(); ++i) j.push_back(estimate_json(es[i], ss[i], p.model.graph));
    std::cout << j.dump(1) << "\n";
    return;
  }
  auto row = [&](const std::string& name, auto value) {
    std::cout << fmt::format("{:<22}", name);
    for (size_t i = 0; i < es.size(); ++i) std::cout << fmt::format(" {:>22}", value(es[i]));
    std::cout << "\n";
  };
  std::cout << fmt::format("{} on {} x {} ({}), global batch {}\n\n", p.model.graph.name, p.gpus, p.cluster.gpu.name,
                           p.cluster.name, p.global_batch);
  // The strategy string leaves precision out (a problem flag elsewhere); a strategy here may set it.
  for (size_t i = 0; i < ss.size(); ++i)
    std::cout << fmt::format("[{}] {},precision={}\n", i + 1, strategy_to_string(ss[i]), dtype_name(ss[i].precision));
  std::cout << fmt::format("\n{:<22}", "");
  for (size_t i = 0; i < ss.size(); ++i) std::cout << fmt::format(" {:>22}", fmt::format("[{}]", i + 1));
  std::cout << "\n";
  row("step time", [](const Estimate& e) { return human_seconds(e.step_time_s); });
  row("tokens/s", [](const Estimate& e) { return fmt::format("{:.0f}", e.tokens_per_s); });
  row("MFU", [](const Estimate& e) { return fmt::format("{:.1f}%", 100 * e.mfu); });
  row("peak memory/GPU", [](const Estimate& e) { return human_bytes(e.peak_memory_bytes) + (e.fits ? "" : " OOM"); });
  row("  compute", [](const Estimate& e) { return human_seconds(e.breakdown.compute_s); });
  row("  recompute", [](const Estimate& e) { return human_seconds(e.breakdown.recompute_s); });
  row("  tp comm", [](const Estimate& e) { return human_seconds(e.breakdown.tp_comm_s); });
  row("  cp comm", [](const Estimate& e) { return human_seconds(e.breakdown.cp_comm_s); });
  row("  ep comm", [](const Estimate& e) { return human_seconds(e.breakdown.ep_comm_s); });
  row("  pp send/recv", [](const Estimate& e) { return human_seconds(e.breakdown.pp_comm_s); });
  row("  pp bubble", [](const Estimate& e) { return human_seconds(e.breakdown.pp_bubble_s); });
  row("  dp comm", [](const Estimate& e) { return human_seconds(e.breakdown.dp_comm_s); });
  row("  optimizer", [](const Estimate& e) { return human_seconds(e.breakdown.optimizer_s); });
}
}  // namespace

void register_compare(CLI::App& app) {
  auto o = std::make_shared<CompareOptions>();
  auto* cmd = app.add_subcommand("compare", "Several strategies side by side with their breakdowns");
  add_problem_flags(cmd, o->problem);
  cmd->add_option("--strategy", o->strategies, "e.g. \"tp=8,pp=8,mbs=1,recompute=selective,sp\" (repeat)")->required();
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] { run_compare(*o); });
}

}  // namespace shardplan::cli
