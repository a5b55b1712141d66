// `shardplan report`: one self-contained HTML file (plan/report.hpp) from a search (the flags of
// `plan`) or from a plan file (its problem searched again for context, its strategy shown in
// detail): Pareto front, ranked table, memory per stage, simulated timeline. Written atomically.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/plan_input.hpp"
#include "cli/rerank.hpp"
#include "cli/search_flags.hpp"
#include "cli/strategy_flags.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "plan/plan.hpp"
#include "plan/report.hpp"
#include "simulator/simulate.hpp"

namespace shardplan::cli {

namespace {
struct ReportOptions {
  ProblemFlags problem;
  SearchFlags search;
  std::string plan_file, out = "report.html", colour_by;
};

// The search's problem and, from a plan file, the strategy to show.
struct Setup {
  OpGraph graph;
  ClusterSpec cluster;
  int64_t gpus = 0, global_batch = 0;
  DType precision = DType::bf16, grad_reduce = DType::fp32;
  bool allow_tp_across_nodes = false;
  std::optional<Candidate> chosen;  // a plan file's strategy, estimated with its own pipeline cut
};

Setup setup_from(const ReportOptions& o, CLI::App* cmd) {
  Setup s;
  if (!o.plan_file.empty()) {
    // What the plan file fixes: its problem and the implementation its strategy was priced with
    // (the search for context keeps those); the search-space lists still apply.
    for (const char* flag : {"--model", "--gpus", "--global-batch", "--cluster", "--seq-len", "--precision",
                             "--grad-reduce-dtype", "--allow-tp-across-nodes", "--no-flash-attention",
                             "--fp8-param-gather", "--attention-kernel", "--no-overlap-grad-reduce",
                             "--no-async-tp-backward", "--zero3-impl"})
      if (cmd->count(flag) > 0)
        throw UsageError(std::string(flag) + " cannot be combined with --plan (the plan file fixes it)");
    LoadedPlan l = load_plan(o.plan_file);
    const Plan& p = l.plan;
    s.graph = std::move(l.graph);
    s.cluster = p.cluster;
    s.gpus = p.strategy.gpus();
    s.global_batch = p.strategy.global_batch;
    s.precision = p.strategy.precision;
    s.grad_reduce = p.strategy.grad_reduce;
    s.allow_tp_across_nodes = p.allow_tp_across_nodes;
    s.chosen = Candidate{p.strategy, l.estimate};
    return s;
  }
  if (o.problem.model.empty() || o.problem.gpus == 0 || o.problem.global_batch == 0)
    throw UsageError("report needs --model, --gpus and --global-batch, or --plan FILE");
  Problem p = resolve_problem(o.problem);
  s.graph = std::move(p.model.graph);
  s.cluster = p.cluster;
  s.gpus = p.gpus;
  s.global_batch = p.global_batch;
  s.precision = p.precision;
  s.grad_reduce = p.grad_reduce;
  s.allow_tp_across_nodes = o.problem.allow_tp_across_nodes;
  return s;
}

std::vector<std::string> chunk_names(const OpGraph& g, const std::vector<int64_t>& bounds) {
  std::vector<std::string> out;
  for (size_t c = 0; c + 1 < bounds.size(); ++c) {
    const std::string& a = g.blocks[static_cast<size_t>(bounds[c])].name;
    const std::string& b = g.blocks[static_cast<size_t>(bounds[c + 1] - 1)].name;
    out.push_back(a == b ? a : a + ".." + b);
  }
  return out;
}

void run_report(const ReportOptions& o, CLI::App* cmd) {
  Setup s = setup_from(o, cmd);
  SearchOptions so =
      search_options_from(o.search, s.gpus, s.global_batch, s.precision, s.allow_tp_across_nodes);
  so.grad_reduce = s.grad_reduce;
  if (s.chosen) {
    const Strategy& c = s.chosen->strategy;
    so.flash_attention = c.flash_attention, so.attention_kernel = c.attention_kernel,
    so.overlap_grad_reduce = c.overlap_grad_reduce, so.async_tp_backward = c.async_tp_backward,
    so.fp8_param_gather = c.fp8_param_gather, so.zero3_impl = c.zero3_impl;
  }
  so.keep_pareto_strategies = true;  // the front comes from this one search, not a second pass
  const SearchSpace space = search_space_from(o.search);
  SearchResult r = search(s.graph, s.cluster, space, so);
  ReportData d;
  Estimator est(s.graph, s.cluster, EstimatorOptions{s.allow_tp_across_nodes});
  // The ranked plans in the order `plan` gives them: re-ranked by the simulator.
  rerank_with_simulator(r.top, s.graph, s.cluster, so.objective, size_t(o.search.top));
  if (s.chosen) {
    d.chosen = *s.chosen;
  } else {
    if (r.top.empty()) {
      std::string why;
      for (const auto& n : r.not_searched) why += "; not searched: " + n;
      throw UsageError(std::string("no feasible plan to report: ") +
                       (r.considered == 0 ? "nothing to search" : "no strategy fits") + why +
                       " (`shardplan plan` says what would fit)");
    }
    d.chosen = r.top.front();
  }
  d.title =
      fmt::format("{} on {} x {} ({})", s.graph.name, s.gpus, s.cluster.gpu.name, s.cluster.name);
  d.subtitle =
      fmt::format("global batch {} x {} tokens, {} precision, objective {}", s.global_batch,
                  s.graph.seq_len, dtype_name(s.precision), o.search.objective);
  d.cluster = s.cluster;
  d.usable_bytes = s.cluster.gpu.memory_bytes * (1 - so.memory_headroom);
  d.ranked = r.top;
  d.front = std::move(r.pareto_front);
  d.colour_by = o.colour_by.empty() ? most_varied_field(d.front) : o.colour_by;
  d.considered = r.considered;
  d.feasible = r.feasible;
  d.timed_out = r.timed_out;
  for (size_t i = 1; i < r.rejected.size(); ++i)
    if (r.rejected[i] > 0)
      d.rejected.emplace_back(reason_name(static_cast<Reason>(i)), r.rejected[i]);
  d.chunk_names = chunk_names(s.graph, d.chosen.estimate.chunk_bounds);
  SimOptions sim;
  sim.dp = d.chosen.strategy.dp;
  sim.record_trace = true;
  d.sim = simulate(est.stage_costs(d.chosen.strategy, d.chosen.estimate.chunk_bounds), sim);
  if (!d.sim.error.empty())
    std::cerr << "note: the timeline is empty: cannot simulate the plan: " << d.sim.error << "\n";
  write_file_atomically(o.out, render_report_html(d));
  std::cout << fmt::format("report written to {} ({} ranked plans, {} on the Pareto front)\n",
                           o.out, d.ranked.size(), d.front.size());
}
}  // namespace

void register_report(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand(
      "report", "Write an HTML report of a search or a plan file (Pareto front, timeline)");
  add_problem_flags(cmd, o->problem);
  for (const char* name : {"--model", "--gpus", "--global-batch"})
    cmd->get_option(name)->required(false);
  add_search_flags(cmd, o->search);
  cmd->add_option("--plan", o->plan_file,
                  "show this plan file's strategy (its problem is searched for context)");
  cmd->add_option("-o,--out", o->out, "the HTML file to write")->capture_default_str();
  cmd->add_option("--colour-by", o->colour_by,
                  "strategy field that colours the Pareto front (default: the most varied)")
      ->check(CLI::IsMember(
          {"tp", "pp", "dp", "cp", "ep", "vp", "zero", "recompute", "micro_batch", "schedule"}));
  cmd->callback([o, cmd] { run_report(*o, cmd); });
}

}  // namespace shardplan::cli
