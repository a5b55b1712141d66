// JSON conversion of ModelSpec for modules that already use nlohmann/json (plan files, HF import).
#pragma once
#include <map>

#include "core/json_reader.hpp"
#include "core/model_spec.hpp"

namespace shardplan {

// The largest width, head count, head dimension, vocabulary, sequence length or MoE size a spec
// may have: nothing real comes near 2^30, and a product of two such sizes stays inside int64.
inline constexpr int64_t kMaxModelDim = int64_t{1} << 30;
// The most layers: each becomes ~15 ops of the graph (the deepest published models have ~200).
inline constexpr int64_t kMaxModelLayers = 10'000;

ModelSpec model_spec_from_json(const JsonObject& obj);
Json model_spec_to_json(const ModelSpec& spec);
// Where the file a spec was read from holds a spec field, when not under the spec's own name: the
// key there (relative to the object's path), and for a value formed from other fields, how.
struct FieldSource {
  std::string key;      // "num_key_value_heads" for kv_heads in an HF config
  std::string derived;  // "4 * hidden, as ffn_hidden is absent"; empty when `key` holds the value
};
using FieldSources = std::map<std::string, FieldSource>;

// RoPE scaling parameters under HF's key names (rope_scaling), of a `type` from
// rope_scaling_types(); shared by the spec's rope.scaling and the HF importer.
const std::vector<std::string>& rope_scaling_types();
RopeScaling rope_scaling_from_json(const JsonObject& o, const std::string& type);

// Checks cross-field rules (divisibility, positivity); `file` and `path` (with `sources` mapping
// spec fields to the keys the file has) locate the error.
void validate_model_spec(const ModelSpec& spec, const std::string& file, const std::string& path,
                         const FieldSources& sources = {});

}  // namespace shardplan
