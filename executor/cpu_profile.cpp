// The hardware profile a calibration implies, and its JSON text in the hardware/ formats. Every
// figure is a measurement of this machine except where the source says otherwise.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/hardware_json.hpp"
#include "executor/calibrate.hpp"

namespace shardplan::executor {

using OJ = nlohmann::ordered_json;

ClusterSpec cpu_cluster_profile(const Calibration& c) {
  GpuSpec g;
  g.name = "cpu-" + c.host;
  g.description = fmt::format("CPU executor rank (one thread) on {}, {} cores", c.host, c.cores);
  g.memory_bytes = c.memory_bytes / std::max(1, c.cores);  // each of the cores' ranks its share of RAM
  g.memory_bandwidth_GBps = c.add_GBps;
  g.sms = c.cores;
  double best = 0;
  std::string best_shape;
  for (const GemmPoint& p : c.gemm)
    if (p.gflops > best) best = p.gflops, best_shape = fmt::format("{}x{}x{}", p.m, p.n, p.k);
  g.peak_tflops[static_cast<int>(DType::fp32)] = best / 1e3;
  g.gemm_peak_fraction = 1.0;
  // What the cost model's memory-bound ops stand for here: the executor's elementwise kernels.
  g.memory_bandwidth_fraction = std::clamp(c.pointwise_GBps / c.add_GBps, 0.01, 1.0);
  g.kernel_overhead_us = c.call_overhead_us;
  g.gemm_tile_m = 1;  // a CPU core runs no waves of output tiles: no wave quantization
  g.gemm_tile_n = 1;
  // The k-loop overhead fitted to the smallest-k shapes: rate(k) = best · k / (k + K).
  double small_k = 0, small_rate = 0;
  int small_n = 0;
  for (const GemmPoint& p : c.gemm)
    if (small_n == 0 || p.k < small_k) small_k = double(p.k), small_rate = p.gflops, small_n = 1;
    else if (double(p.k) == small_k) small_rate += p.gflops, ++small_n;
  small_rate /= std::max(1, small_n);
  g.gemm_pipeline_k = small_rate > 0 ? std::max(0.0, small_k * (best / small_rate - 1)) : 0;
  g.runtime_reserved_bytes = 0;
  g.allocator_fragmentation = 0;
  const std::string meas = fmt::format(
      "shardplan calibrate: measured with {} thread(s) running at once (one per rank), best of 5 rounds, "
      "timed by thread CPU time", c.threads);
  g.source = {
      {"memory_bytes", "physical RAM (sysconf _SC_PHYS_PAGES x _SC_PAGE_SIZE) over the cores: one rank per core shares it"},
      {"memory_bandwidth_GBps",
       fmt::format("{}: a[i] = b[i] + c[i] over 64 MiB float arrays, best of 5, per thread, bytes read + "
                   "written (copy: {:.2f} GB/s)", meas, c.copy_GBps)},
      {"sms", "logical cores (std::thread::hardware_concurrency); each rank is one thread on one core"},
      {"peak_tflops", fmt::format("{}: fp32 = the best float32 GEMM rate of the grid through the executor's "
                                  "Eigen path ({} at {:.2f} GFLOP/s per thread); no other math types", meas,
                                  best_shape, best)},
      {"gemm_peak_fraction", "1.0: peak_tflops is already the measured best GEMM rate, not a datasheet figure"},
      {"memory_bandwidth_fraction",
       fmt::format("{}: the executor's SwiGLU and RMSNorm kernels (forward and backward, 1 MiB float arrays) "
                   "move {:.2f} GB/s per thread, this fraction of memory_bandwidth_GBps (scalar code with "
                   "exp and reductions, not a plain stream)", meas, c.pointwise_GBps)},
      {"kernel_overhead_us", meas + ": one 1x1x1 GEMM call through the executor (the per-op call cost)"},
      {"gemm_tile_m", "1: a CPU core has no waves of output tiles, so no wave quantization"},
      {"gemm_tile_n", "1: see gemm_tile_m"},
      {"gemm_pipeline_k", fmt::format("fitted: the k = {:.0f} shapes of the grid run at {:.2f} GFLOP/s against the best "
                                      "{:.2f}, so best·k/(k + K) gives K = {:.1f}", small_k, small_rate, best,
                                      g.gemm_pipeline_k)},
      {"attention_fwd_fraction", "not calibrated (default): the CPU executor runs unfused attention, so "
                                 "estimate its plans with --no-flash-attention (and --no-overlap-grad-reduce)"},
      {"attention_bwd_fraction", "not calibrated (default), see attention_fwd_fraction"},
      {"runtime_reserved_bytes", "0: the executor's accounting covers every tensor; no device context"},
      {"allocator_fragmentation", "0: the executor counts exact tensor bytes (malloc overhead not modelled)"}};
  ClusterSpec cl;
  cl.name = "cpu-" + c.host;
  cl.gpu = g;
  cl.gpus_per_node = c.cores;
  cl.nodes = 1;
  NetworkLevel l;
  l.name = "threads";
  l.gpus = 0;
  l.bandwidth_GBps = c.bus_GBps;
  l.latency_us = c.latency_us;
  l.efficiency = 1.0;
  l.source = fmt::format(
      "shardplan calibrate: float32 all-reduce of the in-process communicator over {} threads, 4 B to {} MiB, "
      "each rank computing (a 128x256x256 GEMM) before each call as in a run; per call from the last rank's "
      "arrival to the last rank's return, median per size; the ring model t = 2(n-1)a + 2(n-1)/n S/B fitted by least squares on the relative "
      "error over all sizes (smallest {:.2f} us); efficiency 1.0 (B is measured)",
      std::max(2, c.threads), c.all_reduce.back().bytes >> 20, c.all_reduce.front().time_s * 1e6);
  cl.network = {l};
  return cl;
}


std::string gpu_profile_json(const GpuSpec& g) { return gpu_to_json(g).dump(2) + "\n"; }

std::string cluster_profile_json(const ClusterSpec& c) {
  OJ j = cluster_to_json(c);
  j["source"] = "shardplan calibrate --backend cpu: this machine as the CPU executor uses it (one rank per thread)";
  return j.dump(2) + "\n";
}

}  // namespace shardplan::executor
