// `shardplan simulate`: the discrete-event prediction of one strategy (same flags and JSON
// contract as estimate, with the simulated step time and memory), optionally a Chrome trace.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/estimate_json.hpp"
#include "cli/strategy_flags.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "costmodel/estimate.hpp"
#include "simulator/simulate.hpp"
#include "simulator/trace.hpp"

namespace shardplan::cli {

namespace {
struct SimulateOptions {
  ProblemFlags problem;
  StrategyFlags strategy;
  std::string trace;
  bool full = false, json = false;
};

// The estimate's step-time-derived fields, recomputed for the simulated step time and memory.
Estimate with_simulation(Estimate e, const SimResult& r, const ClusterSpec& c) {
  const double scale = e.step_time_s / r.step_time_s;
  e.tokens_per_s *= scale;
  e.model_tflops_per_gpu *= scale;
  e.hardware_tflops_per_gpu *= scale;
  e.mfu *= scale;
  e.hfu *= scale;
  e.step_time_s = r.step_time_s;
  e.peak_memory_bytes = 0;
  for (size_t i = 0; i < r.peak_memory_bytes.size() && i < e.stages.size(); ++i) {
    StageMemory& m = e.stages[i];
    double static_bytes =
        m.params_bytes + m.grads_bytes + m.optimizer_bytes + m.working_bytes + m.buffers_bytes + m.runtime_bytes;
    m.activations_bytes = std::max(0.0, r.peak_memory_bytes[i] - static_bytes);
    m.total_bytes = r.peak_memory_bytes[i];
    if (m.total_bytes > e.peak_memory_bytes) e.peak_memory_bytes = m.total_bytes, e.peak_stage = static_cast<int64_t>(i);
  }
  e.fits = e.peak_memory_bytes <= c.gpu.memory_bytes;
  // bubble_fraction, exposed_comm_fraction and the breakdown stay the estimate's (one accounting);
  // the simulator's own idle time is simulation.idle_fraction.
  return e;
}

void run_simulate(const SimulateOptions& o) {
  Problem p = resolve_problem(o.problem);
  Strategy s = resolve_strategy(o.strategy, p);
  Estimator est(p.model.graph, p.cluster, EstimatorOptions{o.problem.allow_tp_across_nodes});
  Estimate e = est.estimate(s);
  if (!e.valid()) throw UsageError(std::string("impossible strategy (") + reason_name(e.reason) + "): " + e.detail);
  SimOptions so;
  so.full = o.full;
  so.dp = s.dp;
  so.record_trace = !o.trace.empty();
  SimResult r = simulate(est.stage_costs(s, e.chunk_bounds), so);
  if (!r.error.empty()) throw UsageError("cannot simulate: " + r.error);
  Estimate se = with_simulation(e, r, p.cluster);
  if (!o.trace.empty()) write_file_atomically(o.trace, chrome_trace_json(r));
  if (o.json) {
    auto j = estimate_json(se, s, p.model.graph);
    j["simulation"] = {{"analytic_step_time_s", e.step_time_s},
                       {"critical_stage", r.critical_stage},
                       {"exposed_dp_comm_s", r.exposed_dp_comm_s},
                       {"idle_fraction", r.idle_fraction},
                       {"simulated_gpus", r.gpus},
                       {"events", r.events}};
    std::cout << j.dump(1) << "\n";
  } else {
    std::cout << estimate_text(se, s, p.cluster, p.model.graph, e.step_time_s);
    std::cout << "\nsimulated " << r.gpus << " GPU(s), " << r.events << " events; analytic estimate "
              << e.step_time_s << " s; the critical stage's compute is idle " << fmt::format("{:.1f}", 100 * r.idle_fraction)
              << "% of the step (pipeline bubble and waits on communication)\n";
    if (!o.trace.empty()) std::cout << "trace written to " << o.trace << " (open in Perfetto or chrome://tracing)\n";
  }
}
}  // namespace

void register_simulate(CLI::App& app) {
  auto o = std::make_shared<SimulateOptions>();
  auto* cmd = app.add_subcommand("simulate", "Simulate one training step event by event");
  add_problem_flags(cmd, o->problem);
  add_strategy_flags(cmd, o->strategy);
  cmd->add_option("--trace", o->trace, "write a Chrome trace (Perfetto, chrome://tracing)");
  cmd->add_flag("--full", o->full, "simulate every data-parallel replica, not one per stage");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] { run_simulate(*o); });
}

}  // namespace shardplan::cli
