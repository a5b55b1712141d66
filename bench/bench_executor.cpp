// bench_executor: predicted against measured step time on this CPU. Calibrates the machine (as
// `shardplan calibrate` does, once per rank count: cores share memory bandwidth and caches), then
// runs plans of a CPU-sized decoder on up to as many ranks as there are cores and prints the median
// measured step time beside estimate's and simulate's predictions made with the calibrated profile
// (fp32, unfused attention, gradient reduction after the backward: as the executor runs).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "costmodel/estimate.hpp"
#include "executor/calibrate.hpp"
#include "executor/run.hpp"
#include "graph/transformer_builder.hpp"
#include "simulator/simulate.hpp"

using namespace shardplan;

namespace {

// Llama lineage (RMSNorm, SwiGLU, no biases or dropout), so the graph has exactly the executor's
// ops; sized for ~0.1-1 s steps on one core.
ModelSpec cpu_model() {
  ModelSpec m;
  m.name = "cpu-bench";
  m.layers = 4;
  m.hidden = 256;
  m.heads = 4;
  m.kv_heads = 4;
  m.head_dim = 64;
  m.ffn_hidden = 704;
  m.ffn_act = "swiglu";
  m.norm = "rmsnorm";
  m.vocab = 2048;
  m.seq_len = 64;
  m.tied_embeddings = false;
  return m;
}

// The 1-minute load average: wall-time ratios mean something only when the ranks have their cores
// to themselves (load below cores - ranks); on a shared machine other processes take them.
double load_average() {
  double l = 0;
  std::ifstream("/proc/loadavg") >> l;
  return l;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

// One plan's numbers, each a median over the rounds: a round calibrates the machine and then runs
// every plan, so a prediction is always paired with a measurement taken under the same conditions.
struct Row {
  std::string plan;
  std::vector<double> measured, fastest, cpu, estimated, simulated, ratio_est, ratio_sim;
};

Strategy bench_strategy(const ModelSpec& m, const std::string& plan) {
  Strategy base;
  base.global_batch = 8;
  base.micro_batch = 1;
  base.precision = DType::fp32;
  base.flash_attention = false;      // the executor materialises the attention probabilities
  base.overlap_grad_reduce = false;  // and reduces gradients after the backward, synchronously
  base.seq_len = m.seq_len;
  return parse_strategy_string(plan, base);
}

// One round of one plan: runs it, predicts it with this round's profile, appends to `row`.
void bench(const ModelSpec& m, const OpGraph& g, ClusterSpec cluster, int steps, Row& row) {
  const Strategy s = bench_strategy(m, row.plan);
  executor::RunOptions o;
  o.model = m;
  o.strategy = s;
  o.steps = steps;
  const executor::RunReport r = executor::run_training(o);
  // The first step allocates and warms the caches: the median of the others.
  const std::vector<double> t(r.step_times_s.begin() + 1, r.step_times_s.end());
  const std::vector<double> cpu(r.step_cpu_times_s.begin() + 1, r.step_cpu_times_s.end());
  const double wall = median(t);
  cluster.set_gpu_count(s.gpus());
  Estimator est(g, cluster, EstimatorOptions{true});
  const Estimate e = est.estimate(s);
  if (!e.valid()) {
    std::fprintf(stderr, "%s: %s\n", row.plan.c_str(), e.detail.c_str());
    return;
  }
  SimOptions so;
  so.dp = s.dp;
  const SimResult sr = simulate(est.stage_costs(s), so);
  const double simulated = sr.error.empty() ? sr.step_time_s : 0;
  row.measured.push_back(wall);
  row.fastest.push_back(*std::min_element(t.begin(), t.end()));
  row.cpu.push_back(median(cpu));
  row.estimated.push_back(e.step_time_s);
  row.simulated.push_back(simulated);
  row.ratio_est.push_back(e.step_time_s / wall);
  row.ratio_sim.push_back(simulated / wall);
}

// Profiles by rank count, each measured with that many threads at once (cores share memory
// bandwidth and caches).
std::map<int, ClusterSpec> calibrate_profiles(int cores, bool verbose) {
  std::map<int, ClusterSpec> profiles;
  for (int threads : {1, 2, 4}) {
    if (threads > cores) break;
    executor::CalibrationOptions co;
    co.threads = threads;
    const executor::Calibration cal = executor::calibrate_cpu(co);
    profiles[threads] = executor::cpu_cluster_profile(cal);
    const GpuSpec& gpu = profiles[threads].gpu;
    if (verbose)
      std::printf("  profile (%d thread(s)): fp32 peak %.2f GFLOP/s per rank, %.2f GB/s, all-reduce %.2f us + %.2f GB/s\n",
                  threads, gpu.peak_tflops[static_cast<int>(DType::fp32)] * 1e3, gpu.memory_bandwidth_GBps,
                  cal.latency_us, cal.bus_GBps);
  }
  return profiles;
}

}  // namespace

int main(int argc, char** argv) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int steps = argc > 1 ? std::max(2, std::atoi(argv[1])) : 6;
  // These machines are shared: another tenant's burst of load slows calibration or a run for
  // seconds at a time. Rounds of (calibrate, run every plan) pair each prediction with the
  // conditions of its measurement; the medians over rounds leave out a round that a burst hit.
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  const ModelSpec m = cpu_model();
  const OpGraph g = build_transformer_graph(m);
  std::vector<std::string> plans = {"dp=1", "dp=1,recompute=full", "dp=1,mbs=4"};
  if (cores >= 2)
    for (const char* p : {"dp=2", "dp=2,zero=3", "tp=2", "tp=2,sp", "pp=2", "pp=2,schedule=gpipe",
                          "pp=2,schedule=zb", "pp=2,vp=2,schedule=interleaved"})
      plans.push_back(p);
  if (cores >= 4)
    for (const char* p : {"dp=4", "dp=2,tp=2,sp", "tp=2,pp=2", "dp=2,pp=2,zero=1"}) plans.push_back(p);
  std::vector<Row> rows(plans.size());
  for (size_t i = 0; i < plans.size(); ++i) rows[i].plan = plans[i];
  for (int round = 0; round < rounds; ++round) {
    std::printf("round %d: calibrating (%d threads, load average %.2f)\n", round + 1, cores, load_average());
    const std::map<int, ClusterSpec> profiles = calibrate_profiles(cores, true);
    for (Row& r : rows) bench(m, g, profiles.at(int(bench_strategy(m, r.plan).gpus())), steps, r);
  }
  std::printf("\n%s: layers %lld, hidden %lld, ffn %lld, vocab %lld, seq %lld, global batch 8\n", m.name.c_str(),
              (long long)m.layers, (long long)m.hidden, (long long)m.ffn_hidden, (long long)m.vocab,
              (long long)m.seq_len);
  std::printf("each column is the median over %d rounds; in a round: wall is the median of %d steps, fastest the\n"
              "fastest step, rank-0 CPU the median of its thread's CPU time per step (no waits, nothing taken by\n"
              "other processes), ratio the round's prediction / its wall time\n",
              rounds, steps - 1);
  std::printf("%-34s %11s %11s %11s %11s %7s %11s %7s\n", "plan", "wall", "fastest", "rank-0 CPU", "estimate", "ratio",
              "simulate", "ratio");
  double worst = 0;
  for (const Row& r : rows) {
    if (r.measured.empty()) continue;
    const double re = median(r.ratio_est), rs = median(r.ratio_sim);
    worst = std::max({worst, std::abs(re - 1), std::abs(rs - 1)});
    std::printf("%-34s %8.1f ms %8.1f ms %8.1f ms %8.1f ms %7.3f %8.1f ms %7.3f\n", r.plan.c_str(),
                median(r.measured) * 1e3, median(r.fastest) * 1e3, median(r.cpu) * 1e3, median(r.estimated) * 1e3,
                re, median(r.simulated) * 1e3, rs);
  }
  std::printf("\nworst |median ratio - 1| = %.1f%% (target 15%%); load average %.2f on %d cores at the end\n",
              100 * worst, load_average(), cores);
  return 0;
}
