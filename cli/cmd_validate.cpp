// `shardplan validate`: predicted against published step times (and per-layer times), per row,
// with the mean absolute percentage error per group and overall.
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/hardware.hpp"
#include "costmodel/validation.hpp"

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

void run_validate(const ValidateOptions& o) {
  std::string dir = o.dir.empty() ? data_dir("validation") : o.dir;
  std::vector<ValidationRow> rows = load_validation_rows(dir);
  std::vector<ValidationResult> results;
  for (const auto& r : rows) results.push_back(validate_row(r));
  std::map<std::string, GroupStats> groups;
  GroupStats steps, layers;
  for (const auto& r : results) {
    if (!r.row->duplicate_of.empty()) continue;
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
    for (const auto& r : results) {
      nlohmann::ordered_json row;
      row["id"] = r.row->id;
      row["group"] = r.row->group;
      row["gpus"] = r.row->gpus;
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
        row["predicted_peak_memory_bytes"] = r.predicted_peak_memory_bytes;
      }
      if (!r.row->duplicate_of.empty()) row["duplicate_of"] = r.row->duplicate_of;
      j["rows"].push_back(row);
    }
    for (const auto& [name, g] : groups) j["groups"][name] = {{"mape", g.mape()}, {"max_abs_error", g.max_abs}, {"n", g.n}};
    j["step_time"] = {{"mape", steps.mape()}, {"max_abs_error", steps.max_abs}, {"n", steps.n}};
    j["layer_time"] = {{"mape", layers.mape()}, {"max_abs_error", layers.max_abs}, {"n", layers.n}};
    std::cout << j.dump(1) << "\n";
    return;
  }
  std::cout << fmt::format("{:<34} {:>5} {:<14} {:>10} {:>10} {:>8}\n", "row", "gpus", "tp/pp/dp/vp mbs", "measured",
                           "predicted", "error");
  std::string last_group;
  for (const auto& r : results) {
    if (r.row->group != last_group) {
      std::cout << "-- " << r.row->group << "\n";
      last_group = r.row->group;
    }
    const Strategy& s = r.row->strategy;
    std::string par = fmt::format("{}/{}/{}/{} {}", s.tp, s.pp, s.dp, s.vp, s.micro_batch);
    std::string id = r.row->id + (r.row->duplicate_of.empty() ? "" : " (dup)");
    if (r.layer_row) {
      std::cout << fmt::format("{:<34} {:>5} {:<14} {:>8.2f}ms {:>8.2f}ms {:>+7.1f}%  forward\n", id, r.row->gpus, par,
                               r.measured, r.predicted, 100 * r.error);
      std::cout << fmt::format("{:<34} {:>5} {:<14} {:>8.2f}ms {:>8.2f}ms {:>+7.1f}%  backward\n", "", "", "",
                               r.measured_bwd, r.predicted_bwd, 100 * r.error_bwd);
    } else if (r.row->step_time_s) {
      std::cout << fmt::format("{:<34} {:>5} {:<14} {:>9.3f}s {:>9.3f}s {:>+7.1f}%\n", id, r.row->gpus, par, r.measured,
                               r.predicted, 100 * r.error);
    }
  }
  std::cout << "\nmean absolute error per group\n";
  for (const auto& [name, g] : groups)
    std::cout << fmt::format("  {:<46} {:>5.1f}%  (max {:>5.1f}%, {} values)\n", name, 100 * g.mape(), 100 * g.max_abs, g.n);
  std::cout << fmt::format("  {:<46} {:>5.1f}%  (max {:>5.1f}%, {} rows)\n", "all step times", 100 * steps.mape(),
                           100 * steps.max_abs, steps.n);
  std::cout << fmt::format("  {:<46} {:>5.1f}%  (max {:>5.1f}%, {} values)\n", "per-layer times (Korthikanti Table 4)",
                           100 * layers.mape(), 100 * layers.max_abs, layers.n);
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
