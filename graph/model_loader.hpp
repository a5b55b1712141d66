// One entry point for every model input: a zoo name, a transformer spec, a Hugging Face
// config.json (has "model_type") or an explicit op graph (has "ops"). All become an OpGraph.
#pragma once
#include <optional>
#include <string>

#include "core/model_spec.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

struct LoadedModel {
  std::string file;
  std::string format;              // "spec", "hf" or "graph"
  std::optional<ModelSpec> spec;   // absent for explicit graphs
  OpGraph graph;
};

// `seq_len_override` > 0 replaces the model's sequence length (--seq-len).
LoadedModel load_model(const std::string& name_or_file, int64_t seq_len_override = 0);
LoadedModel load_model_text(const std::string& text, const std::string& file, int64_t seq_len_override = 0);
std::vector<std::string> list_models();

}  // namespace shardplan
