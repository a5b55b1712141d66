// Plan: the chosen strategy as a file ("shardplan.plan/1", docs/plan-format.md) that the
// executor and the framework emitters read. It holds the inputs (model, cluster, strategy, stage
// partition) and the prediction; layout, groups, schedule and ZeRO sharding derive from them.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/atomic_file.hpp"  // write_file_atomically, for writers of plan text
#include "core/hardware.hpp"
#include "core/model_spec.hpp"
#include "core/strategy.hpp"
#include "graph/model_loader.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

inline constexpr const char* kPlanFormat = "shardplan.plan/1";

struct PlanModel {
  std::string name;
  std::string input = "spec";  // what the user gave: "spec", "hf" (converted to a spec) or "graph"
  std::optional<ModelSpec> spec;  // spec and hf inputs
  nlohmann::json graph;           // graph input: the op-graph document itself (null otherwise)
  bool operator==(const PlanModel&) const = default;
};

struct Plan {
  PlanModel model;
  ClusterSpec cluster;  // sized: gpus_per_node * nodes = strategy.gpus()
  Strategy strategy;
  bool allow_tp_across_nodes = false;  // the estimator option the prediction was made with
  std::vector<std::string> blocks;     // the model's blocks in order (pipeline-cuttable units)
  std::vector<int64_t> chunk_bounds;   // chunk c = v*pp + stage holds blocks [b[c], b[c+1])
  // The estimate contract (docs/estimate-format.md) of this strategy, without its "strategy" key.
  nlohmann::ordered_json prediction;
  bool operator==(const Plan&) const = default;
};

// Assembles a plan. `prediction` is cli's estimate_json() of the strategy (its "strategy" key is
// dropped: the plan has its own). An op-graph model is embedded by re-reading `model.file`.
Plan make_plan(const LoadedModel& model, const ClusterSpec& cluster, const Strategy& strategy,
               bool allow_tp_across_nodes, const std::vector<int64_t>& chunk_bounds,
               nlohmann::ordered_json prediction);

// The op graph of the plan's model; `file` labels errors in an embedded op graph.
OpGraph plan_graph(const Plan& plan, const std::string& file);

// The plan as deterministic text (same plan, same bytes), and back. Reading validates every
// field and every derived section; errors are InputError(file, JSON path, expected ...).
std::string plan_to_text(const Plan& plan);
Plan plan_from_text(const std::string& text, const std::string& file);
Plan read_plan_file(const std::string& file);

}  // namespace shardplan
