// Shared by the simulator tests that run a zoo model end to end: the estimate and the simulated
// step of one strategy string ("tp=8,zero=3,...", dp filling the GPUs).
#pragma once
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "core/hardware.hpp"
#include "costmodel/estimate.hpp"
#include "graph/model_loader.hpp"
#include "simulator/simulate.hpp"

namespace shardplan::testing {

struct Predicted {
  Estimate estimate;
  SimResult simulated;
};

// `strategy` of `model` on `gpus` of `cluster`; both must succeed (REQUIRE).
inline Predicted estimate_and_simulate(const char* model, const char* cluster, int64_t gpus,
                                       int64_t global_batch, const std::string& strategy) {
  const LoadedModel m = load_model(model);
  ClusterSpec c = load_cluster(cluster);
  c.set_gpu_count(gpus);
  Estimator est(m.graph, c);
  Strategy base;
  base.global_batch = global_batch;
  Strategy s = parse_strategy_string(strategy, base);
  s.dp = gpus / (s.tp * s.pp * s.cp);
  Predicted p{est.estimate(s), {}};
  INFO(model, " on ", gpus, " ", cluster, ": ", strategy, ": ", p.estimate.detail);
  REQUIRE(p.estimate.valid());
  p.simulated = simulate(est.stage_costs(s), SimOptions{});
  REQUIRE(p.simulated.error.empty());
  return p;
}

}  // namespace shardplan::testing
