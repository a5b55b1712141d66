// Plans for tests, built from fixed strategies, an even stage split and a fixed prediction, so
// the golden files and round-trip tests do not move when the cost model or the search does.
#pragma once
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "core/hardware.hpp"
#include "graph/model_loader.hpp"
#include "plan/plan.hpp"

namespace shardplan_test {

inline std::string source_file(const std::string& rel) {
  return std::string(SHARDPLAN_SOURCE_DIR) + "/" + rel;
}

// Chunk c = v*pp + stage gets layers/chunks layers; the embedding joins chunk 0, the head the last.
inline std::vector<int64_t> even_bounds(int64_t layers, int64_t chunks) {
  std::vector<int64_t> b{0};
  for (int64_t c = 1; c < chunks; ++c) b.push_back(1 + c * layers / chunks);
  b.push_back(layers + 2);
  return b;
}

// A prediction with the estimate contract's required keys and round numbers.
inline nlohmann::ordered_json fixed_prediction(int64_t pp) {
  nlohmann::ordered_json stages = nlohmann::ordered_json::array();
  for (int64_t i = 0; i < pp; ++i)
    stages.push_back({{"stage", i},
                      {"params_bytes", 1.0e9},
                      {"grads_bytes", 2.0e9},
                      {"optimizer_bytes", 3.0e9},
                      {"activations_bytes", 4.5e9},
                      {"buffers_bytes", 0.25e9},
                      {"runtime_bytes", 1.5e9},
                      {"total_bytes", 12.25e9},
                      {"inflight_micro_batches", double(pp - i)}});
  return {{"step_time_s", 1.25},
          {"tokens_per_s", 100000.0},
          {"model_tflops_per_gpu", 150.0},
          {"hardware_tflops_per_gpu", 160.0},
          {"mfu", 0.5},
          {"hfu", 0.55},
          {"fits", true},
          {"peak_memory_bytes", 12.25e9},
          {"peak_stage", 0},
          {"memory", {{"per_stage", stages}}}};
}

// `model` is a file under models/, `cluster` a preset; the strategy's dp follows from `gpus`.
inline shardplan::Plan fixed_plan(const std::string& model, const std::string& cluster,
                                  int64_t gpus, shardplan::Strategy s) {
  shardplan::LoadedModel m = shardplan::load_model(source_file("models/" + model + ".json"));
  shardplan::ClusterSpec c = shardplan::load_cluster(cluster);
  c.set_gpu_count(gpus);
  s.dp = gpus / (s.tp * s.pp * s.cp);
  s.seq_len = m.graph.seq_len;
  const int64_t layers = static_cast<int64_t>(m.graph.blocks.size()) - 2;
  return shardplan::make_plan(m, c, s, false, even_bounds(layers, s.pp * s.vp),
                              fixed_prediction(s.pp));
}

inline std::string read_text(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares `text` with tests/data/golden/<name>; SHARDPLAN_UPDATE_GOLDEN=1 rewrites the file.
inline bool matches_golden(const std::string& name, const std::string& text) {
  const std::string file = source_file("tests/data/golden/" + name);
  if (const char* u = std::getenv("SHARDPLAN_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(file, std::ios::binary) << text;
    return true;
  }
  return read_text(file) == text;
}

}  // namespace shardplan_test
