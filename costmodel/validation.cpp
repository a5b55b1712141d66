// Reading validation rows and predicting them: whole steps through the Estimator, single-layer
// rows (Korthikanti Table 4) through the block cost of that layer.
#include "costmodel/validation.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/json_reader.hpp"
#include "core/model_spec_json.hpp"
#include "costmodel/estimate.hpp"
#include "graph/transformer_builder.hpp"

namespace fs = std::filesystem;

namespace shardplan {

namespace {
Strategy strategy_from_json(const JsonObject& o) {
  o.reject_unknown({"tp", "pp", "dp", "cp", "ep", "vp", "sp", "zero", "recompute", "micro_batch",
                    "global_batch", "schedule", "precision", "flash_attention", "attention_kernel",
                    "overlap_grad_reduce", "tp_comm_overlap", "ep_comm_overlap",
                    "async_tp_backward", "grad_reduce",
                    "fp8_param_gather", "zero3_impl"});
  Strategy s;
  s.tp = o.get_positive_int("tp", 1);
  s.pp = o.get_positive_int("pp", 1);
  s.dp = o.get_positive_int("dp", 1);
  s.cp = o.get_positive_int("cp", 1);
  s.ep = o.get_positive_int("ep", 1);
  s.vp = o.get_positive_int("vp", 1);
  s.sp = o.get_bool("sp", false);
  const int64_t zero = o.get_int("zero", 0);  // checked before narrowing: 2^32 + 1 is not 1
  if (zero < 0 || zero > 3) o.fail("zero", "expected 0, 1, 2 or 3");
  s.zero = static_cast<int>(zero);
  if (!parse_recompute(o.get_string("recompute", "none"), s.recompute))
    o.fail("recompute", std::string("expected ") + kRecomputeChoices);
  s.micro_batch = o.get_positive_int("micro_batch", 1);
  s.global_batch = o.get_positive_int("global_batch");
  if (!parse_schedule(o.get_string("schedule", "1f1b"), s.schedule))
    o.fail("schedule", "expected gpipe, 1f1b, interleaved or zb");
  auto p = parse_dtype(o.get_string("precision", "bf16"));
  if (!p) o.fail("precision", "expected fp32, bf16, fp16 or fp8");
  s.precision = *p;
  s.flash_attention = o.get_bool("flash_attention", true);
  parse_attention_kernel(o.get_enum("attention_kernel", attention_kernel_names(), "default"), s.attention_kernel);
  s.overlap_grad_reduce = o.get_bool("overlap_grad_reduce", true);
  s.tp_comm_overlap = o.get_bool("tp_comm_overlap", false);
  s.ep_comm_overlap = o.get_bool("ep_comm_overlap", false);
  s.async_tp_backward = o.get_bool("async_tp_backward", true);
  s.grad_reduce = *parse_dtype(o.get_enum("grad_reduce", {"fp32", "bf16", "fp16"}, "fp32"));
  if (std::string why = grad_reduce_error(s); !why.empty()) o.fail("grad_reduce", why);
  s.fp8_param_gather = o.get_bool("fp8_param_gather", false);
  parse_zero3_impl(o.get_enum("zero3_impl", zero3_impl_names(), "fsdp"), s.zero3_impl);
  return s;
}

// "zero=0, cp=1: not stated; ..." -> {"zero", "cp"}; entries with any other reason are skipped.
std::vector<std::string> unstated_keys(const JsonObject& r) {
  std::vector<std::string> keys;
  const Json& assumed = r.raw("assumed");
  if (!assumed.is_array()) r.fail("assumed", "expected an array of strings, found " + describe_json(assumed));
  for (size_t i = 0; i < assumed.size(); ++i) {
    const Json& a = assumed[i];
    if (!a.is_string())
      r.fail("assumed/" + std::to_string(i), "expected a string, found " + describe_json(a));
    const std::string text = a.get<std::string>();
    const size_t colon = text.find(": not stated");
    if (colon == std::string::npos) continue;
    std::stringstream list(text.substr(0, colon));
    std::string item;
    while (std::getline(list, item, ',')) {
      item.erase(0, item.find_first_not_of(' '));
      keys.push_back(item.substr(0, item.find('=')));
    }
  }
  return keys;
}

// A row measures a whole step (step_time_s, and the allocator's peak where published) or one
// layer (forward and backward); a row with neither would drop out of every comparison unseen.
void read_measured(const JsonObject& m, ValidationRow& v) {
  m.reject_unknown({"step_time_s", "layer_forward_ms", "layer_backward_ms", "peak_reserved_gib"});
  if (m.has("layer_forward_ms") || m.has("layer_backward_ms")) {
    for (const char* step_key : {"step_time_s", "peak_reserved_gib"})
      if (m.has(step_key))
        m.fail(step_key,
               "expected either a layer row (layer_forward_ms and layer_backward_ms) or a step row "
               "(step_time_s), not both");
    for (const char* layer_key : {"layer_forward_ms", "layer_backward_ms"})
      if (!m.has(layer_key))
        m.fail(layer_key,
               "missing required field: a layer row expects both layer_forward_ms and "
               "layer_backward_ms");
    v.layer_forward_ms = m.get_positive_number("layer_forward_ms");
    v.layer_backward_ms = m.get_positive_number("layer_backward_ms");
    return;
  }
  if (!m.has("step_time_s"))
    m.fail("",
           "expected step_time_s (a whole step) or layer_forward_ms and layer_backward_ms "
           "(one layer), found neither");
  v.step_time_s = m.get_positive_number("step_time_s");
  if (m.has("peak_reserved_gib"))
    v.peak_reserved_bytes = m.get_positive_number("peak_reserved_gib") * 1073741824.0;
}

// "measured", or "derived: <formula and inputs>" (docs/validation.md).
std::string step_time_how(const JsonObject& r) {
  if (!r.has("step_time_how")) return "";
  const std::string how = r.get_string("step_time_how");
  const std::string derived = "derived: ";
  if (how == "measured" || (how.rfind(derived, 0) == 0 && how.size() > derived.size())) return how;
  r.fail("step_time_how", "expected \"measured\" or \"derived: <formula and inputs>\", found " +
                              describe_json(r.raw("step_time_how")));
}
}  // namespace

std::vector<ValidationRow> validation_rows_from_text(const std::string& text, const std::string& file) {
  Json j = parse_json_text(text, file);
  JsonObject top(j, file, "");
  top.reject_unknown({"group", "source", "rows"});
  const Json& rows = top.raw("rows");
  if (!rows.is_array()) top.fail("rows", "expected an array of rows");
  std::vector<ValidationRow> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    JsonObject r(rows[i], file, "/rows/" + std::to_string(i));
    r.reject_unknown({"id", "group", "source", "published", "notes", "duplicate_of", "model",
                      "cluster", "gpus", "strategy", "assumed", "measured", "step_time_how",
                      "memory_how"});
    ValidationRow v;
    v.file = file;
    v.json_path = r.path();
    v.id = r.get_string("id");
    if (v.id.empty()) r.fail("id", "expected a non-empty row id, found \"\"");
    v.group = r.get_string("group");
    v.source = r.get_string("source");
    v.duplicate_of = r.get_string("duplicate_of", "");
    if (r.has("duplicate_of") && v.duplicate_of.empty())
      r.fail("duplicate_of", "expected the id of the row this one duplicates, found \"\"");
    v.model = model_spec_from_json(r.get_object("model"));
    v.cluster = r.get_string("cluster");
    // A cluster file named by a relative path (with a '/' or ending in .json: a preset name has
    // neither) is read beside the validation file.
    const bool path = v.cluster.find('/') != std::string::npos || fs::path(v.cluster).extension() == ".json";
    if (path && fs::path(v.cluster).is_relative())
      v.cluster = (fs::path(file).parent_path() / v.cluster).string();
    v.gpus = r.get_positive_int("gpus");
    if (v.gpus > kMaxGpus) r.fail("gpus", "expected at most " + std::to_string(kMaxGpus));
    v.strategy = strategy_from_json(r.get_object("strategy"));
    v.strategy.seq_len = v.model.seq_len;
    read_measured(r.get_object("measured"), v);
    v.step_time_how = step_time_how(r);
    if (r.has("assumed")) v.unstated = unstated_keys(r);
    // Read by people only, but typed all the same: "published" holds the source's own numbers.
    r.get_string("notes", "");
    r.get_string("memory_how", "");
    if (r.has("published")) {
      const JsonObject pub = r.get_object("published");
      for (auto it = pub.json().begin(); it != pub.json().end(); ++it)
        if (!it->is_number()) pub.fail(it.key(), "expected a number, found " + describe_json(*it));
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<ValidationRow> load_validation_rows(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  if (ec) throw InputError(dir, "", "cannot read the validation directory");
  std::sort(files.begin(), files.end());
  std::vector<ValidationRow> rows;
  for (const auto& f : files) {
    auto part = validation_rows_from_text(read_input_file(f), f);
    rows.insert(rows.end(), part.begin(), part.end());
  }
  if (rows.empty())
    throw InputError(dir, "",
                     "expected validation files (*.json with a \"rows\" array), found no rows");
  // Rows are compared and summed by id: one measured twice would count twice.
  std::map<std::string, const ValidationRow*> seen;
  for (const auto& r : rows) {
    auto [first, fresh] = seen.emplace(r.id, &r);
    if (!fresh)
      throw InputError(r.file, r.json_path + "/id",
                       "expected a row id not used by another row, found \"" + r.id +
                           "\" (also at " + first->second->file + ": " + first->second->json_path +
                           ")");
  }
  // A duplicate leaves the statistics to its original, which must be there.
  for (const auto& r : rows) {
    if (r.duplicate_of.empty()) continue;
    if (r.duplicate_of == r.id || !seen.count(r.duplicate_of))
      throw InputError(r.file, r.json_path + "/duplicate_of",
                       "expected the id of another row in " + dir + ", found \"" + r.duplicate_of +
                           "\"");
    // The original counts in the statistics: it may not be a duplicate itself (two rows naming
    // each other would both leave them).
    if (!seen.at(r.duplicate_of)->duplicate_of.empty())
      throw InputError(r.file, r.json_path + "/duplicate_of",
                       "expected the id of an original row, found \"" + r.duplicate_of +
                           "\", itself a duplicate of \"" + seen.at(r.duplicate_of)->duplicate_of + "\"");
  }
  return rows;
}

ValidationSetup validation_setup(const ValidationRow& row) {
  ClusterSpec cluster;
  try {
    cluster = load_cluster(row.cluster);
  } catch (const InputError& e) {
    // A preset name that is not one: the error is the row's. One inside a cluster file names that file.
    const bool preset = row.cluster.find('/') == std::string::npos &&
                        row.cluster.find(".json") == std::string::npos;
    if (!preset || e.file() != row.cluster || !e.json_path().empty()) throw;
    throw InputError(row.file, row.json_path + "/cluster", e.message());
  }
  ValidationSetup s{std::move(cluster), build_transformer_graph(row.model)};
  try {
    s.cluster.set_gpu_count(row.gpus);
  } catch (const UsageError& e) {  // not whole nodes of the row's cluster: the row's error, not a flag's
    throw InputError(row.file, row.json_path + "/gpus", e.what());
  }
  return s;
}

ValidationResult validate_row(const ValidationRow& row) {
  ValidationResult r;
  r.row = &row;
  ValidationSetup setup = validation_setup(row);
  const ClusterSpec& cluster = setup.cluster;
  const OpGraph& g = setup.graph;
  if (row.layer_forward_ms && row.layer_backward_ms) {
    // One transformer layer (block 1) on one GPU of the TP group.
    r.layer_row = true;
    // The strategy's rules hold for a layer row as for a step row (heads by tp, dp*tp*pp*cp the
    // GPUs, vp with its schedule, the kernel named): a layer of 3-way TP over 64 heads is no row.
    std::string why;
    if (Estimator(g, cluster).check(row.strategy, &why) != Reason::ok)
      throw InputError(row.file, row.json_path + "/strategy", "row \"" + row.id + "\": invalid strategy: " + why);
    const ShardContext c = shard_context(row.strategy, cluster, row.model.seq_len);
    BlockCost bc = price_block(g, g.blocks[1], cluster.gpu, c);
    r.measured = *row.layer_forward_ms;
    r.predicted = bc.fwd_s * 1e3;
    r.measured_bwd = *row.layer_backward_ms;
    r.predicted_bwd = (bc.bwd_input_s + bc.bwd_weight_s + bc.recompute_s) * 1e3;
    r.error = (r.predicted - r.measured) / r.measured;
    r.error_bwd = (r.predicted_bwd - r.measured_bwd) / r.measured_bwd;
    return r;
  }
  Estimator est(g, cluster);
  Estimate e = est.estimate(row.strategy);
  if (!e.valid())
    throw InputError(row.file, row.json_path + "/strategy",
                     "row \"" + row.id + "\": invalid strategy: " + e.detail);
  r.predicted = e.step_time_s;
  r.predicted_peak_memory_bytes = e.peak_memory_bytes;
  if (row.step_time_s) {
    r.measured = *row.step_time_s;
    r.error = (r.predicted - r.measured) / r.measured;
  }
  if (row.peak_reserved_bytes) {
    r.measured_reserved_bytes = *row.peak_reserved_bytes;
    r.predicted_reserved_bytes = e.peak_memory_bytes - cluster.gpu.runtime_reserved_bytes;
    r.memory_error = (r.predicted_reserved_bytes - r.measured_reserved_bytes) / r.measured_reserved_bytes;
  }
  return r;
}

}  // namespace shardplan
