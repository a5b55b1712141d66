// `shardplan check PLAN`: validates a plan file (every field and every derived section; errors
// name the file, JSON path and what was expected, exit 2), re-estimates its strategy and says
// whether the stored prediction still holds (exit 0) or what changed (exit 1).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/validators.hpp"
#include "cli/estimate_json.hpp"
#include "cli/plan_input.hpp"
#include "core/error.hpp"
#include "costmodel/estimate.hpp"
#include "plan/json_text.hpp"
#include "plan/plan.hpp"

namespace shardplan::cli {

namespace {
struct CheckOptions {
  std::string file;
  double tolerance = 1e-6;
  bool json = false;
};

void run_check(const CheckOptions& o) {
  LoadedPlan c;
  try {
    c = load_plan(o.file);
  } catch (const InputError& err) {
    // --json answers on stdout too (valid: false, the error), then fails as every command does.
    if (o.json)
      std::cout << nlohmann::ordered_json{{"file", o.file}, {"format", kPlanFormat}, {"valid", false},
                                          {"error", err.what()}}
                       .dump(1)
                << "\n";
    throw;
  }
  const Plan& p = c.plan;
  const OpGraph& g = c.graph;
  const Estimate& e = c.estimate;
  nlohmann::ordered_json fresh = estimate_json(e, p.strategy, g);
  fresh.erase("strategy");
  // A stage's chunk list restates the partition, which reading the plan has already checked; plans
  // written before its keys matched the partition's ("virtual") compare on the numbers alone.
  auto numbers = [](nlohmann::json j) {
    if (j.contains("memory") && j["memory"].contains("per_stage") && j["memory"]["per_stage"].is_array())
      for (auto& st : j["memory"]["per_stage"])
        if (st.is_object()) st.erase("chunks");
    return j;
  };
  std::vector<JsonDifference> diffs;
  for (auto& d : json_differences(numbers(nlohmann::json(p.prediction)), numbers(nlohmann::json(fresh)),
                                  o.tolerance, 20, "/prediction"))
    diffs.push_back(std::move(d));
  const bool matches = diffs.empty();
  if (o.json) {
    nlohmann::ordered_json j;
    j["file"] = o.file;
    j["format"] = kPlanFormat;
    j["valid"] = true;
    j["matches"] = matches;
    j["tolerance"] = o.tolerance;
    j["differences"] = nlohmann::ordered_json::array();
    for (const auto& d : diffs)
      j["differences"].push_back({{"path", d.path}, {"stored", d.expected}, {"now", d.found}});
    j["estimate"] = fresh;
    std::cout << j.dump(1) << "\n";
  } else {
    std::cout << fmt::format("{}: a valid {} plan\n\n", o.file, kPlanFormat);
    std::cout << estimate_text(e, p.strategy, p.cluster, g) << "\n";
    if (matches) {
      std::cout << fmt::format(
          "the re-estimate matches the stored prediction (relative tolerance {:g})\n", o.tolerance);
    } else {
      std::cout << fmt::format(
          "the re-estimate differs from the stored prediction (relative tolerance {:g}):\n",
          o.tolerance);
      for (const auto& d : diffs)
        std::cout << fmt::format("  {}: stored {}, now {}\n", d.path, d.expected, d.found);
    }
  }
  if (!matches) throw ExitStatus{1};
}
}  // namespace

void register_check(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand(
      "check", "Validate a plan file and re-estimate it against its stored prediction");
  cmd->add_option("plan", o->file, "plan file written by `plan --out`")->required();
  cmd->add_option("--tolerance", o->tolerance, "relative difference allowed per number")
      ->check(finite_in(0.0, 1.0, "a relative tolerance"));
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->footer("Exit status: 0 valid and matching, 1 valid but the prediction changed, 2 invalid.");
  cmd->callback([o] { run_check(*o); });
}

}  // namespace shardplan::cli
