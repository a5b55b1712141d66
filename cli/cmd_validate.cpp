// `shardplan validate`: predicted against published step times (per-layer times, and peak memory
// where measured), per row, with the mean absolute percentage error per group and overall.
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/hardware.hpp"
#include "costmodel/estimate.hpp"
#include "costmodel/validation.hpp"
#include "simulator/simulate.hpp"

namespace shardplan::cli {

namespace {
struct ValidateOptions {
  std::string dir;
  bool json = false;
};

struct GroupStats {
  double sum_abs = 0, max_abs = 0;
  int n = 0;
  void add(double e) {
    sum_abs += std::fabs(e);
    max_abs = std::max(max_abs, std::fabs(e));
    n++;
  }
  double mape() const { return n ? sum_abs / n : 0; }
};

// The simulator's step time for a whole-step row (one representative rank per stage).
double simulated_step_s(const ValidationRow& row) {
  ValidationSetup setup = validation_setup(row);
  Estimator est(setup.graph, setup.cluster);
  SimResult r = simulate(est.stage_costs(row.strategy));
  // A row the simulator cannot play is the row's error, not a silent 0 s (-100%) left out of the mean.
  if (!r.error.empty())
    throw InputError(row.file, row.json_path, "row \"" + row.id + "\": the simulator cannot run it: " + r.error);
  return r.step_time_s;
}

void run_validate(const ValidateOptions& o) {
  std::string dir = o.dir.empty() ? data_dir("validation") : o.dir;
  std::vector<ValidationRow> rows = load_validation_rows(dir);
  std::vector<ValidationResult> results;
  std::vector<double> simulated;
  for (const auto& r : rows) {
    results.push_back(validate_row(r));
    simulated.push_back(results.back().layer_row ? 0 : simulated_step_s(r));
  }
  std::map<std::string, GroupStats> groups;
  GroupStats steps, layers, sim_steps, memory;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    if (!r.row->duplicate_of.empty()) continue;
    if (r.row->peak_reserved_bytes) memory.add(r.memory_error);
    if (!r.layer_row && r.row->step_time_s && simulated[i] > 0) sim_steps.add((simulated[i] - r.measured) / r.measured);
    if (r.layer_row) {
      groups[r.row->group].add(r.error);
      groups[r.row->group].add(r.error_bwd);
      layers.add(r.error);
      layers.add(r.error_bwd);
    } else if (r.row->step_time_s) {
      groups[r.row->group].add(r.error);
      steps.add(r.error);
    }
  }
  if (o.json) {
    nlohmann::ordered_json j;
    j["rows"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      nlohmann::ordered_json row;
      row["id"] = r.row->id;
      row["group"] = r.row->group;
      row["gpus"] = r.row->gpus;
      row["strategy"] = strategy_to_string(r.row->strategy);
      if (r.layer_row) {
        row["measured_forward_ms"] = r.measured;
        row["predicted_forward_ms"] = r.predicted;
        row["measured_backward_ms"] = r.measured_bwd;
        row["predicted_backward_ms"] = r.predicted_bwd;
        row["error_forward"] = r.error;
        row["error_backward"] = r.error_bwd;
      } else {
        row["measured_step_time_s"] = r.measured;
        row["predicted_step_time_s"] = r.predicted;
        row["error"] = r.error;
        row["simulated_step_time_s"] = simulated[i];
        row["simulated_error"] = r.measured > 0 ? (simulated[i] - r.measured) / r.measured : 0;
        // Byte counts are whole numbers, as in the estimate contract (docs/estimate-format.md).
        row["predicted_peak_memory_bytes"] = std::llround(r.predicted_peak_memory_bytes);
        if (r.row->peak_reserved_bytes) {
          row["measured_peak_reserved_bytes"] = std::llround(r.measured_reserved_bytes);
          row["predicted_peak_reserved_bytes"] = std::llround(r.predicted_reserved_bytes);
          row["memory_error"] = r.memory_error;
        }
      }
      if (!r.row->duplicate_of.empty()) row["duplicate_of"] = r.row->duplicate_of;
      j["rows"].push_back(row);
    }
    for (const auto& [name, g] : groups) j["groups"][name] = {{"mape", g.mape()}, {"max_abs_error", g.max_abs}, {"n", g.n}};
    j["step_time"] = {{"mape", steps.mape()}, {"max_abs_error", steps.max_abs}, {"n", steps.n}};
    j["simulated_step_time"] = {{"mape", sim_steps.mape()}, {"max_abs_error", sim_steps.max_abs}, {"n", sim_steps.n}};
    j["layer_time"] = {{"mape", layers.mape()}, {"max_abs_error", layers.max_abs}, {"n", layers.n}};
    j["peak_memory"] = {{"mape", memory.mape()}, {"max_abs_error", memory.max_abs}, {"n", memory.n}};
    std::cout << j.dump(1) << "\n";
    return;
  }
  std::cout << fmt::format("{:<34} {:>5} {:<18} {:>10} {:>10} {:>8} {:>10} {:>8}\n", "row", "gpus", "tp/pp/dp/vp mbs",
                           "measured", "estimate", "error", "simulated", "error");
  std::string last_group;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    if (r.row->group != last_group) {
      std::cout << "-- " << r.row->group << "\n";
      last_group = r.row->group;
    }
    const Strategy& s = r.row->strategy;
    // Context and expert parallelism where used, so the sizes multiply to the GPU count.
    std::string par = fmt::format("{}/{}/{}/{} {}", s.tp, s.pp, s.dp, s.vp, s.micro_batch);
    if (s.cp > 1) par += fmt::format(" cp{}", s.cp);
    if (s.ep > 1) par += fmt::format(" ep{}", s.ep);
    std::string id = r.row->id + (r.row->duplicate_of.empty() ? "" : " (dup)");
    if (r.layer_row) {
      std::cout << fmt::format("{:<34} {:>5} {:<18} {:>8.2f}ms {:>8.2f}ms {:>+7.1f}%  forward\n", id, r.row->gpus, par,
                               r.measured, r.predicted, 100 * r.error);
      std::cout << fmt::format("{:<34} {:>5} {:<18} {:>8.2f}ms {:>8.2f}ms {:>+7.1f}%  backward\n", "", "", "",
                               r.measured_bwd, r.predicted_bwd, 100 * r.error_bwd);
    } else if (r.row->step_time_s) {
      std::cout << fmt::format("{:<34} {:>5} {:<18} {:>9.3f}s {:>9.3f}s {:>+7.1f}% {:>9.3f}s {:>+7.1f}%\n", id,
                               r.row->gpus, par, r.measured, r.predicted, 100 * r.error, simulated[i],
                               100 * (simulated[i] - r.measured) / r.measured);
    }
    if (r.row->peak_reserved_bytes) {
      const double gib = 1073741824.0;
      std::cout << fmt::format("{:<34} {:>5} {:<18} {:>7.1f}GiB {:>7.1f}GiB {:>+7.1f}%  peak memory (allocator)\n", "",
                               "", "", r.measured_reserved_bytes / gib, r.predicted_reserved_bytes / gib,
                               100 * r.memory_error);
    }
  }
  std::cout << "\nmean absolute error per group\n";
  for (const auto& [name, g] : groups)
    std::cout << fmt::format("  {:<46} {:>5.1f}%  (max {:>5.1f}%, {} values)\n", name, 100 * g.mape(), 100 * g.max_abs, g.n);
  std::cout << fmt::format("  {:<46} {:>5.1f}%  (max {:>5.1f}%, {} rows)\n", "all step times", 100 * steps.mape(),
                           100 * steps.max_abs, steps.n);
  std::cout << fmt::format("  {:<46} {:>5.1f}%  (max {:>5.1f}%, {} rows)\n", "all step times, simulator",
                           100 * sim_steps.mape(), 100 * sim_steps.max_abs, sim_steps.n);
  if (layers.n > 0)
    std::cout << fmt::format("  {:<46} {:>5.1f}%  (max {:>5.1f}%, {} values)\n", "per-layer times (Korthikanti Table 4)",
                             100 * layers.mape(), 100 * layers.max_abs, layers.n);
  if (memory.n > 0)
    std::cout << fmt::format("  {:<46} {:>5.1f}%  (max {:>5.1f}%, {} rows)\n", "peak memory (allocator), where measured",
                             100 * memory.mape(), 100 * memory.max_abs, memory.n);
}
}  // namespace

void register_validate(CLI::App& app) {
  auto o = std::make_shared<ValidateOptions>();
  auto* cmd = app.add_subcommand("validate", "Compare predictions with published measurements of real runs");
  cmd->add_option("--dir", o->dir, "directory of validation/*.json (default: the shipped one)");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] { run_validate(*o); });
}

}  // namespace shardplan::cli
