// Published measurements of real training runs (validation/*.json, docs/validation.md) and the
// comparison of the cost model's predictions against them.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/hardware.hpp"
#include "core/model_spec.hpp"
#include "core/strategy.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

struct ValidationRow {
  std::string id, group, source, duplicate_of;
  std::string file, json_path;  // where the row was read ("/rows/3"), for errors found later
  ModelSpec model;
  std::string cluster;
  int64_t gpus = 0;
  Strategy strategy;
  std::optional<double> step_time_s;        // measured or derived from the published rate
  std::optional<double> layer_forward_ms;   // Korthikanti Table 4 rows (one layer)
  std::optional<double> layer_backward_ms;
  // The framework allocator's peak reserved memory, max over ranks (torch.cuda
  // max_memory_reserved): what the GPU holds less the CUDA context and NCCL's own buffers.
  std::optional<double> peak_reserved_bytes;
  std::string step_time_how;
  // Strategy fields the source does not state (assumed entries "key=value, ...: not stated ..."):
  // the row's value is a guess, so a planner test may treat them as free.
  std::vector<std::string> unstated;
};

struct ValidationResult {
  const ValidationRow* row = nullptr;
  double measured = 0, predicted = 0;     // seconds (step rows) or ms (layer rows)
  double measured_bwd = 0, predicted_bwd = 0;  // layer rows: backward
  double error = 0;                        // signed relative error of the prediction
  double error_bwd = 0;
  double predicted_peak_memory_bytes = 0;
  // Rows with a measured peak_reserved_bytes: the predicted peak less the GPU profile's
  // runtime_reserved_bytes (context and communicator buffers, outside the allocator).
  double measured_reserved_bytes = 0, predicted_reserved_bytes = 0, memory_error = 0;
  bool layer_row = false;
};

// Loads every validation/*.json under `dir` (sorted by file name), rows in file order.
std::vector<ValidationRow> load_validation_rows(const std::string& dir);
std::vector<ValidationRow> validation_rows_from_text(const std::string& text, const std::string& file);
ValidationResult validate_row(const ValidationRow& row);

// The cluster (sized to the row's GPUs) and graph a row runs on; shared by the estimate and
// simulator comparisons.
struct ValidationSetup {
  ClusterSpec cluster;
  OpGraph graph;
};
ValidationSetup validation_setup(const ValidationRow& row);

}  // namespace shardplan
