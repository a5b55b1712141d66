// Detects the input format and dispatches to the right loader.
#include "graph/model_loader.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/error.hpp"
#include "core/hardware.hpp"
#include "core/json_reader.hpp"
#include "core/model_spec_json.hpp"
#include "graph/graph_loader.hpp"
#include "graph/hf_config.hpp"
#include "graph/model_stats.hpp"
#include "graph/transformer_builder.hpp"

namespace fs = std::filesystem;

namespace shardplan {

namespace {
// Byte counts (18 B of model state per parameter, activations per token times the sequence) are
// exact in int64 below 2^63; a model within every per-field bound can still exceed that (hidden
// 2^27 gave negative memory in the JSON). 1e15 parameters is thousands of times today's largest.
constexpr double kMaxParams = 1e15;

void check_size(const OpGraph& g, const std::string& file) {
  const double params = model_stats(g).params;
  if (params > kMaxParams) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "the model has %.3g parameters: expected at most %.0e", params, kMaxParams);
    throw InputError(file, "/", msg);
  }
}

LoadedModel from_json(const Json& j, const std::string& file, int64_t seq) {
  JsonObject o(j, file, "");
  LoadedModel m;
  m.file = file;
  if (o.has("model_type")) {
    m.format = "hf";
    m.spec = model_spec_from_hf(o, seq);
  } else if (o.has("ops")) {
    m.format = "graph";
    m.graph = op_graph_from_json(o, seq);
    check_size(m.graph, file);
    return m;
  } else {
    m.format = "spec";
    m.spec = model_spec_from_json(o);
    if (seq > 0) m.spec->seq_len = seq;
  }
  m.graph = build_transformer_graph(*m.spec);
  check_size(m.graph, file);
  return m;
}
}  // namespace

std::vector<std::string> list_models() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(data_dir("models"), ec))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

LoadedModel load_model(const std::string& name_or_file, int64_t seq) {
  std::string file = name_or_file;
  std::error_code ec;  // non-throwing: a name too long for a path is "no such model", not a crash
  if (!fs::exists(file, ec)) {
    fs::path p = fs::path(data_dir("models")) / (name_or_file + ".json");
    if (name_or_file.find('/') == std::string::npos && fs::exists(p, ec)) {
      file = p.string();
    } else {
      std::string near = closest_match(name_or_file, list_models());
      throw InputError(name_or_file, "", "no such file or zoo model" +
                                             (near.empty() ? std::string() : " (did you mean \"" + near + "\"?)"));
    }
  }
  return from_json(parse_json_file(file), file, seq);
}

LoadedModel load_model_text(const std::string& text, const std::string& file, int64_t seq) {
  return from_json(parse_json_text(text, file), file, seq);
}

}  // namespace shardplan
