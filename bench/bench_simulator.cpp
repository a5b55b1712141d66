// bench_simulator: how fast the step simulator runs. Prints events/s and wall time (median of 5)
// for the 1T-parameter pipeline (pp = 64, 512 micro-batches), interleaved and ZB-H1 variants,
// doubling micro-batch counts (linear growth), and full mode with dp = 24 replicas.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "simulator/sim_graph.hpp"
#include "simulator/simulate.hpp"
#include "simulator/trace.hpp"

using namespace shardplan;

namespace {

// Synthetic uniform costs of roughly a 1T-parameter GPT stage on H100s (numbers only need to be
// plausible: the simulator's speed does not depend on them).
StageCosts synthetic(Schedule sched, int64_t pp, int64_t vp, int64_t m) {
  StageCosts c;
  c.pp = pp, c.vp = vp, c.micro_batches = m, c.schedule = sched;
  ChunkCost k;
  k.fwd_s = 0.012 / vp;
  k.bwd_input_s = 0.012 / vp;
  k.bwd_weight_s = 0.012 / vp;
  k.activation_bytes = 1.2e9 / vp;
  k.send_bytes = 50e6;  // b*s*h/t activations, bf16
  k.grad_bytes = 2e9 / vp;
  c.chunks.assign(pp, std::vector<ChunkCost>(vp, k));
  c.static_bytes.assign(pp, 30e9);
  c.optimizer_s.assign(pp, 0.05);
  c.dp_comm_s.assign(pp, 0.8);
  c.p2p = {25e9, 5e-6, "ib"};
  c.dp_link = {25e9, 10e-6, "ib"};
  return c;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void bench(const std::string& label, const StageCosts& c, SimOptions o = {}) {
  std::vector<double> total, run_only;
  SimResult r;
  int64_t events = 0;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    r = simulate(c, o);
    total.push_back(seconds_since(t0));
    // The event loop alone, on a graph built outside the timer.
    detail::SimGraph g;
    detail::build_graph(c, o, g);
    auto t1 = std::chrono::steady_clock::now();
    events = g.engine.run().events;
    run_only.push_back(seconds_since(t1));
  }
  if (!r.error.empty()) {
    std::printf("%-44s error: %s\n", label.c_str(), r.error.c_str());
    return;
  }
  double t = median(total), tr = median(run_only);
  std::printf(
      "%-44s %9lld tasks %9lld events  simulate %8.2f ms (%5.2f M events/s)  "
      "event loop %7.2f ms (%5.2f M events/s)  step %.3f s\n",
      label.c_str(), static_cast<long long>(r.tasks), static_cast<long long>(events), t * 1e3,
      events / t / 1e6, tr * 1e3, events / tr / 1e6, r.step_time_s);
}

}  // namespace

int main() {
  std::printf("bench_simulator: median of 5 runs, one thread\n");
  bench("1T: pp=64 vp=1 m=512 1f1b (target <= 200 ms)",
        synthetic(Schedule::one_f_one_b, 64, 1, 512));
  bench("1T: pp=64 vp=2 m=512 interleaved", synthetic(Schedule::interleaved, 64, 2, 512));
  bench("1T: pp=64 vp=4 m=512 interleaved", synthetic(Schedule::interleaved, 64, 4, 512));
  bench("1T: pp=64 vp=1 m=512 zb-h1", synthetic(Schedule::zero_bubble, 64, 1, 512));
  bench("1T: pp=64 vp=1 m=512 gpipe", synthetic(Schedule::gpipe, 64, 1, 512));
  for (int64_t m : {128, 256, 512, 1024})
    bench("doubling: pp=64 1f1b m=" + std::to_string(m),
          synthetic(Schedule::one_f_one_b, 64, 1, m));
  SimOptions full;
  full.full = true;
  full.dp = 24;  // 1536 GPUs / (tp 8 * pp 8)
  bench("full: dp=24 pp=8 m=64 1f1b (target <= 10 s)", synthetic(Schedule::one_f_one_b, 8, 1, 64),
        full);
  bench("full: dp=24 pp=8 m=512 1f1b", synthetic(Schedule::one_f_one_b, 8, 1, 512), full);
  bench("full: dp=24 pp=8 vp=2 m=512 interleaved", synthetic(Schedule::interleaved, 8, 2, 512),
        full);

  // Trace export of the 1T step (record_trace + chrome_trace_json).
  SimOptions traced;
  traced.record_trace = true;
  std::vector<double> ts;
  size_t bytes = 0;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    bytes =
        chrome_trace_json(simulate(synthetic(Schedule::one_f_one_b, 64, 1, 512), traced)).size();
    ts.push_back(seconds_since(t0));
  }
  std::printf("%-44s %.2f ms, %.1f MB of JSON\n", "1T with trace + chrome_trace_json",
              median(ts) * 1e3, bytes / 1e6);
  return 0;
}
