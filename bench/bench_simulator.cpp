// bench_simulator: how fast the step simulator runs. Prints events/s and wall time (median of 5)
// for the 1T-parameter pipeline (pp = 64, 512 micro-batches), interleaved and ZB-H1 variants,
// doubling micro-batch counts (linear growth), and full mode with dp = 24 replicas.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
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
  c.dp_comm_nic_s.assign(pp, 0.7);  // DP group across nodes: most of it is NIC time
  c.p2p = {25e9, 5e-6, "ib"};
  c.dp_link = {25e9, 10e-6, "ib"};
  c.nic = {25e9, 6e-6, "ib"};
  c.p2p_on_nic = true;  // tp = 8 fills a node, so every stage-to-stage send leaves it
  return c;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of this thread: on a shared machine it shows what the wall clock hides.
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Returns the median CPU time of simulate().
double bench(const std::string& label, const StageCosts& c, SimOptions o = {}) {
  std::vector<double> wall, cpu, loop;
  SimResult r;
  int64_t events = 0;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    double c0 = thread_cpu_s();
    r = simulate(c, o);
    cpu.push_back(thread_cpu_s() - c0);
    wall.push_back(seconds_since(t0));
    // The event loop alone, on a graph built outside the timer.
    detail::SimGraph g;
    detail::build_graph(c, o, g);
    double c1 = thread_cpu_s();
    events = g.engine.run().events;
    loop.push_back(thread_cpu_s() - c1);
  }
  if (!r.error.empty()) {
    std::printf("%-42s error: %s\n", label.c_str(), r.error.c_str());
    return 0;
  }
  const double w = median(wall), cp = median(cpu), l = median(loop),
               ev = static_cast<double>(events);
  std::printf("%-42s %7lld %7lld %9.2f %9.2f %6.2f %9.2f %6.2f %9.3f\n", label.c_str(),
              static_cast<long long>(r.tasks), static_cast<long long>(events), w * 1e3, cp * 1e3,
              ev / cp / 1e6, l * 1e3, ev / l / 1e6, r.step_time_s);
  return cp;
}

}  // namespace

int main() {
  std::printf(
      "bench_simulator: median of 5 runs, one thread. simulate = build + run + results;\n"
      "loop = the event loop alone (CPU time). Rates: million events per CPU-second of one\n"
      "thread (the wall clock also counts time lost to other processes on a shared "
      "machine).\n\n");
  std::printf("%-42s %7s %7s %9s %9s %6s %9s %6s %9s\n", "case", "tasks", "events", "wall_ms",
              "cpu_ms", "Mev/s", "loop_cpu", "Mev/s", "step_s");
  bench("1T: pp=64 m=512 1f1b (target <= 200 ms)", synthetic(Schedule::one_f_one_b, 64, 1, 512));
  bench("1T: pp=64 vp=2 m=512 interleaved", synthetic(Schedule::interleaved, 64, 2, 512));
  bench("1T: pp=64 vp=4 m=512 interleaved", synthetic(Schedule::interleaved, 64, 4, 512));
  bench("1T: pp=64 m=512 zb-h1", synthetic(Schedule::zero_bubble, 64, 1, 512));
  bench("1T: pp=64 m=512 gpipe", synthetic(Schedule::gpipe, 64, 1, 512));
  double prev = 0;
  for (int64_t m : {128, 256, 512, 1024}) {
    double w = bench("doubling: pp=64 1f1b m=" + std::to_string(m),
                     synthetic(Schedule::one_f_one_b, 64, 1, m));
    if (prev > 0) std::printf("%-42s x%.2f CPU time for x2 micro-batches\n", "", w / prev);
    prev = w;
  }
  SimOptions full;
  full.full = true;
  full.dp = 24;  // 1536 GPUs / (tp 8 * pp 8)
  bench("full dp=24: pp=8 m=64 1f1b (target <= 10 s)", synthetic(Schedule::one_f_one_b, 8, 1, 64),
        full);
  bench("full dp=24: pp=8 m=512 1f1b", synthetic(Schedule::one_f_one_b, 8, 1, 512), full);
  bench("full dp=24: pp=8 vp=2 m=512 interleaved", synthetic(Schedule::interleaved, 8, 2, 512),
        full);

  // Trace export of the 1T step (record_trace + chrome_trace_json).
  SimOptions traced;
  traced.record_trace = true;
  std::vector<double> ts;
  size_t bytes = 0;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    bytes =
        chrome_trace_json(simulate(synthetic(Schedule::one_f_one_b, 64, 1, 512), traced)).size();
    ts.push_back(seconds_since(t0));
  }
  std::printf("\n1T step with record_trace + chrome_trace_json: %.2f ms, %.1f MB of JSON\n",
              median(ts) * 1e3, static_cast<double>(bytes) / 1e6);
  return 0;
}
