// run_json.hpp: the model spec, the strategy string and what the string leaves out; the report's
// per-step series and per-rank memory.
#include "executor/run_json.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/model_spec.hpp"

namespace shardplan::executor {

namespace {
using Json = nlohmann::json;

Json parse(const std::string& text, const std::string& file) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw InputError(file, "/", std::string("expected JSON: ") + e.what());
  }
}

// Reads `key` of `j` as T, or throws with the path.
template <class T>
T get(const Json& j, const std::string& key, const std::string& file, const std::string& at = "") {
  try {
    return j.at(key).get<T>();
  } catch (const Json::exception& e) {
    throw InputError(file, at + "/" + key, e.what());
  }
}
}  // namespace

std::string run_options_to_json(const RunOptions& o) {
  Json j{{"model", Json::parse(model_spec_to_json_text(o.model))},
         {"strategy", strategy_to_string(o.strategy)},
         {"global_batch", o.strategy.global_batch},
         {"seq_len", o.strategy.seq_len},
         {"precision", dtype_name(o.strategy.precision)},
         {"steps", o.steps},
         {"seed", o.seed},
         {"data_file", o.data_file},
         {"checkpoint_dir", o.checkpoint_dir},
         {"resume", o.resume},
         {"layer_bounds", o.layer_bounds}};
  return j.dump();
}

RunOptions run_options_from_json(const std::string& text, const std::string& file) {
  const Json j = parse(text, file);
  RunOptions o;
  if (!j.contains("model")) throw InputError(file, "/model", "missing required field");
  o.model = model_spec_from_json_text(j.at("model").dump(), file);
  Strategy base;
  base.global_batch = get<int64_t>(j, "global_batch", file);
  base.seq_len = get<int64_t>(j, "seq_len", file);
  const auto precision = parse_dtype(get<std::string>(j, "precision", file));
  if (!precision) throw InputError(file, "/precision", "expected fp32, bf16, fp16 or fp8");
  base.precision = *precision;
  o.strategy = parse_strategy_string(get<std::string>(j, "strategy", file), base);
  o.steps = get<int>(j, "steps", file);
  o.seed = get<uint64_t>(j, "seed", file);
  o.data_file = get<std::string>(j, "data_file", file);
  o.checkpoint_dir = get<std::string>(j, "checkpoint_dir", file);
  o.resume = get<bool>(j, "resume", file);
  o.layer_bounds = get<std::vector<int64_t>>(j, "layer_bounds", file);
  return o;
}

std::string run_report_to_json(const RunReport& r) {
  Json ranks = Json::array();
  for (const RankMemory& m : r.peak_bytes_per_rank)
    ranks.push_back({{"rank", m.rank}, {"peak", m.peak_bytes}, {"current", m.current_bytes},
                     {"peak_total", m.peak_total_bytes}});
  Json j{{"losses", r.losses},
         {"grad_norms", r.grad_norms},
         {"step_times_s", r.step_times_s},
         {"step_cpu_times_s", r.step_cpu_times_s},
         {"step_time_s", r.step_time_s},
         {"tokens_per_s", r.tokens_per_s},
         {"peak_bytes_per_rank", ranks},
         {"device_peak_bytes", r.device_peak_bytes}};
  return j.dump();
}

RunReport run_report_from_json(const std::string& text, const std::string& file) {
  const Json j = parse(text, file);
  RunReport r;
  r.losses = get<std::vector<double>>(j, "losses", file);
  r.grad_norms = get<std::vector<double>>(j, "grad_norms", file);
  r.step_times_s = get<std::vector<double>>(j, "step_times_s", file);
  r.step_cpu_times_s = get<std::vector<double>>(j, "step_cpu_times_s", file);
  r.step_time_s = get<double>(j, "step_time_s", file);
  r.tokens_per_s = get<double>(j, "tokens_per_s", file);
  const Json ranks = get<Json>(j, "peak_bytes_per_rank", file);
  for (size_t i = 0; i < ranks.size(); ++i) {
    const std::string at = "/peak_bytes_per_rank/" + std::to_string(i);
    RankMemory m;
    m.rank = get<int>(ranks[i], "rank", file, at);
    m.peak_bytes = get<decltype(m.peak_bytes)>(ranks[i], "peak", file, at);
    m.current_bytes = get<decltype(m.current_bytes)>(ranks[i], "current", file, at);
    m.peak_total_bytes = get<int64_t>(ranks[i], "peak_total", file, at);
    r.peak_bytes_per_rank.push_back(m);
  }
  r.device_peak_bytes = get<std::vector<int64_t>>(j, "device_peak_bytes", file);
  return r;
}

}  // namespace shardplan::executor
