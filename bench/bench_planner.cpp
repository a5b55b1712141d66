// Planner speed: strategy evaluations per second (one Estimator, one core) and the wall time of
// the full search for GPT-3 175B on 1536 A100 (global batch 2304) with 1 and 2 threads. Medians.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "core/hardware.hpp"
#include "graph/model_loader.hpp"
#include "planner/search.hpp"

using namespace shardplan;

int main() {
  LoadedModel m = load_model(std::string(SHARDPLAN_SOURCE_DIR) + "/models/gpt3-175b.json");
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(1536);
  SearchOptions o;
  o.gpus = 1536;
  o.global_batch = 2304;
  std::vector<Strategy> all = enumerate_space(m.graph, c, SearchSpace{}, o);
  std::printf("space: %zu strategies (GPT-3 175B, 1536 x A100, global batch 2304)\n", all.size());
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) {
    Estimator est(m.graph, c);
    auto t0 = std::chrono::steady_clock::now();
    size_t n = std::min<size_t>(all.size(), 300000), valid = 0;
    for (size_t i = 0; i < n; ++i) valid += est.estimate(all[i]).valid();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(double(n) / s);
    if (rep == 0) std::printf("  (%zu of %zu evaluated strategies valid)\n", valid, n);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("evaluations per second, one core: %.0f (median of 3)\n", rates[1]);
  for (int threads : {1, 2}) {
    std::vector<double> walls;
    for (int rep = 0; rep < 3; ++rep) {
      o.threads = threads;
      SearchResult r = search(m.graph, c, SearchSpace{}, o);
      walls.push_back(r.wall_s);
    }
    std::sort(walls.begin(), walls.end());
    std::printf("full search, %d thread(s): %.2f s (median of 3)\n", threads, walls[1]);
  }
  return 0;
}
