// bench_consistency: the discrete-event simulator against the analytic estimate on a fixed
// pseudo-random sample of strategies (every parallel dimension, ZeRO stage, recompute mode,
// schedule and overlap switch) over several zoo models. Both price the same ops; they differ in
// how they overlap communication with compute and fill the pipeline, so their ratio shows where
// one of the two schedules the step differently. Prints per model the median, 90th percentile
// and largest |simulated / estimated - 1|, and the five strategies where they differ most.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "costmodel/estimate.hpp"
#include "graph/model_loader.hpp"
#include "simulator/simulate.hpp"

using namespace shardplan;

namespace {

struct Case {
  const char* model;
  const char* cluster;
  int64_t gpus, global_batch, ep;
};

// A small deterministic generator (the sample is the same on every machine).
struct Lcg {
  uint64_t x;
  uint64_t next() { return x = x * 6364136223846793005ULL + 1442695040888963407ULL; }
  template <class T>
  T pick(std::initializer_list<T> v) { return v.begin()[(next() >> 33) % v.size()]; }
};

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace

int main() {
  const Case cases[] = {
      {"llama3-8b", "dgx-h100", 32, 128, 1},       {"llama3-70b", "dgx-h100", 64, 256, 1},
      {"gpt3-175b", "dgx-a100", 256, 512, 1},      {"mixtral-8x7b", "dgx-h100", 64, 256, 8},
      {"deepseek-v3", "dgx-h100", 256, 512, 8},
  };
  std::printf("%-14s %7s %9s %9s %9s\n", "model", "plans", "median", "p90", "max");
  for (const Case& k : cases) {
    const LoadedModel m = load_model(k.model);
    ClusterSpec c = load_cluster(k.cluster);
    c.set_gpu_count(k.gpus);
    Estimator est(m.graph, c);
    Lcg rng{0x5eedULL + static_cast<uint64_t>(k.gpus)};
    std::vector<double> dev;
    std::vector<std::pair<double, std::string>> worst;
    for (int i = 0; i < 400 && dev.size() < 120; ++i) {
      Strategy s;
      s.global_batch = k.global_batch;
      s.tp = rng.pick<int64_t>({1, 2, 4, 8});
      s.pp = rng.pick<int64_t>({1, 2, 4, 8});
      s.cp = rng.pick<int64_t>({1, 1, 2});
      s.ep = k.ep;
      if (k.gpus % (s.tp * s.pp * s.cp) != 0) continue;
      s.dp = k.gpus / (s.tp * s.pp * s.cp);
      s.sp = s.tp > 1;
      s.schedule = s.pp > 1 ? rng.pick({Schedule::gpipe, Schedule::one_f_one_b, Schedule::interleaved,
                                        Schedule::zero_bubble})
                            : Schedule::one_f_one_b;
      s.vp = s.schedule == Schedule::interleaved ? rng.pick<int64_t>({2, 4}) : 1;
      s.zero = rng.pick({0, 1, 2, 3});
      s.recompute = rng.pick({Recompute::none, Recompute::selective, Recompute::full});
      s.micro_batch = rng.pick<int64_t>({1, 2});
      s.overlap_grad_reduce = rng.pick({true, true, false});
      const Estimate e = est.estimate(s);
      if (!e.valid()) continue;
      const SimResult r = simulate(est.stage_costs(s), SimOptions{});
      if (!r.error.empty()) continue;
      const double d = r.step_time_s / e.step_time_s - 1;
      dev.push_back(std::abs(d));
      worst.emplace_back(d, strategy_to_string(s));
    }
    if (dev.empty()) continue;
    std::printf("%-14s %7zu %8.1f%% %8.1f%% %8.1f%%\n", k.model, dev.size(), 100 * quantile(dev, 0.5),
                100 * quantile(dev, 0.9), 100 * quantile(dev, 1.0));
    std::sort(worst.begin(), worst.end(), [](const auto& a, const auto& b) {
      return std::abs(a.first) > std::abs(b.first) || (std::abs(a.first) == std::abs(b.first) && a.second < b.second);
    });
    for (size_t j = 0; j < std::min<size_t>(5, worst.size()); ++j)
      std::printf("    %+6.1f%%  %s\n", 100 * worst[j].first, worst[j].second.c_str());
  }
  return 0;
}
