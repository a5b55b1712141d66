// `shardplan calibrate --backend cpu`: measures this machine as the CPU executor uses it (GEMM
// rates by shape, streaming bandwidth, in-process all-reduce) and writes a cluster profile in the
// hardware/ format (GPU inline) that --cluster of estimate, simulate and plan accepts.
// `--backend cuda` measures the GPUs instead (cuBLAS GEMM grid, fused attention, device memory
// bandwidth, launch cost, the runtime's memory, NCCL all-reduce; executor/cuda/calibrate_cuda.hpp).
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/cuda_backend.hpp"
#include "cli/validators.hpp"
#include "cli/format.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "costmodel/collectives.hpp"
#include "costmodel/gemm.hpp"
#include "executor/calibrate.hpp"

namespace shardplan::cli {

namespace {
struct CalibrateOptions {
  std::string backend = "cpu", out, gpu_out, gpu_preset;
  int threads = 0;
  double seconds_per_point = 0.05;
  bool json = false;
};

// What the cost model predicts with the written profile, for comparison with each measurement.
double model_gflops(const GpuSpec& g, const executor::GemmPoint& p) {
  return 2.0 * double(p.m * p.n * p.k) / gemm_time_s(g, DType::fp32, double(p.m), double(p.n), double(p.k)) / 1e9;
}
double model_all_reduce_s(const ClusterSpec& c, int ranks, double bytes) {
  const NetworkLevel& l = c.network.front();
  return level_all_reduce_s(ranks, bytes, l);
}

std::string text(const executor::Calibration& m, const ClusterSpec& c, const std::string& out) {
  const GpuSpec& g = c.gpu;
  std::string s = fmt::format("{}: {} cores, {} RAM; measured with {} thread(s) at once (one per rank)\n\n",
                              m.host, m.cores, human_bytes(m.memory_bytes), m.threads);
  s += "float32 GEMM per thread (executor's Eigen path)   measured    model\n";
  for (const auto& p : m.gemm)
    s += fmt::format("  {:>5} x {:>5} x {:>5}                      {:>7.2f}  {:>7.2f} GFLOP/s\n", p.m, p.n, p.k,
                     p.gflops, model_gflops(g, p));
  s += fmt::format("  call overhead {:.2f} us\n\n", m.call_overhead_us);
  s += fmt::format("memory bandwidth per thread: copy {:.2f} GB/s, add {:.2f} GB/s; the executor's elementwise "
                   "kernels {:.2f} GB/s\n\n", m.copy_GBps, m.add_GBps, m.pointwise_GBps);
  const int ranks = std::max(2, m.threads);
  s += fmt::format("all-reduce over {} threads (float32)        measured      model\n", ranks);
  for (const auto& p : m.all_reduce)
    s += fmt::format("  {:>12}                         {:>10}  {:>10}\n", human_bytes(double(p.bytes)),
                     human_seconds(p.time_s), human_seconds(model_all_reduce_s(c, ranks, double(p.bytes))));
  s += fmt::format("  fitted: latency {:.2f} us (per hop, for the faster of ring and tree), bus bandwidth {:.2f} GB/s\n\n",
                   c.network.front().latency_us, m.bus_GBps);
  s += fmt::format("profile {}: fp32 peak {:.3f} TFLOP/s, {:.2f} GB/s, {} ranks on level \"threads\"\n", c.name,
                   g.peak_tflops[static_cast<int>(DType::fp32)], g.memory_bandwidth_GBps, c.gpus_per_node);
  s += fmt::format("wrote {} (use it as --cluster {}; estimate CPU-executor plans with --precision fp32 "
                   "--no-flash-attention --no-overlap-grad-reduce, as the executor runs)\n", out, out);
  return s;
}

nlohmann::ordered_json measurements_json(const executor::Calibration& m, const std::string& out) {
  using OJ = nlohmann::ordered_json;
  OJ gemm = OJ::array();
  for (const auto& p : m.gemm) gemm.push_back({{"m", p.m}, {"n", p.n}, {"k", p.k}, {"gflops", p.gflops}});
  OJ ar = OJ::array();
  for (const auto& p : m.all_reduce) ar.push_back({{"bytes", p.bytes}, {"time_s", p.time_s}});
  return OJ{{"host", m.host},
            {"cores", m.cores},
            {"threads", m.threads},
            {"memory_bytes", m.memory_bytes},
            {"gemm", gemm},
            {"call_overhead_us", m.call_overhead_us},
            {"copy_GBps", m.copy_GBps},
            {"add_GBps", m.add_GBps},
            {"pointwise_GBps", m.pointwise_GBps},
            {"all_reduce", ar},
            {"latency_us", m.latency_us},
            {"bus_GBps", m.bus_GBps},
            {"profile", out}};
}

// The profile as estimate, simulate and plan will read it (one they would refuse is an error now,
// not at its first use), with the network's latency refitted to the estimator's all-reduce: the
// faster of ring and tree. The calibrations read the smallest all-reduce as a ring's 2(n-1) hops,
// which prices small all-reduces over 8 or more ranks, where the tree wins, several times too fast.
ClusterSpec checked_profile(const std::string& json_text, int64_t ranks,
                            const std::vector<std::pair<double, double>>& bytes_and_seconds) {
  ClusterSpec c = cluster_from_json_text(json_text, "the calibrated profile");
  if (ranks >= 2 && !bytes_and_seconds.empty() && !c.network.empty()) {
    NetworkLevel& l = c.network.front();
    l.latency_us = fit_all_reduce_latency_us(ranks, bytes_and_seconds, l);
    l.source += fmt::format("; latency {:.3f} us: the per-hop latency with which the estimator's all-reduce "
                            "(the faster of ring and tree) fits the measured times best",
                            l.latency_us);
  }
  return c;
}

void run_calibrate_cuda(const CalibrateOptions& o) {
  if (o.threads > 0) throw UsageError("--threads: for --backend cpu (the GPU calibration uses every GPU present)");
  const CudaCalibrationResult m = calibrate_on_cuda(o.gpu_preset, o.seconds_per_point);
  const std::string out = o.out.empty() ? "gpu-calibrated.json" : o.out;
  std::vector<std::pair<double, double>> points;
  int64_t devices = 0;
  try {
    const nlohmann::json meas = nlohmann::json::parse(m.measurements_json);
    devices = meas.value("devices", int64_t{0});
    for (const auto& p : meas.at("all_reduce")) points.emplace_back(p.at("bytes").get<double>(), p.at("time_s").get<double>());
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(std::string("shardplan-cuda calibrate's measurements are not readable: ") + e.what());
  }
  const ClusterSpec c = checked_profile(m.profile_json, devices, points);
  write_file_atomically(out, executor::cluster_profile_json(c));
  if (!o.gpu_out.empty()) write_file_atomically(o.gpu_out, executor::gpu_profile_json(c.gpu));
  if (o.json) std::cout << m.measurements_json << "\n";
  else std::cout << m.summary << fmt::format("wrote {} (use it as --cluster {})\n", out, out);
}

void run_calibrate(const CalibrateOptions& o) {
  if (o.backend == "cuda") return run_calibrate_cuda(o);
  if (!o.gpu_preset.empty()) throw UsageError("--gpu-preset: for --backend cuda");
  executor::CalibrationOptions co;
  co.threads = o.threads;
  co.seconds_per_point = o.seconds_per_point;
  const executor::Calibration m = executor::calibrate_cpu(co);
  std::vector<std::pair<double, double>> points;
  for (const executor::CollectivePoint& p : m.all_reduce) points.emplace_back(double(p.bytes), p.time_s);
  const ClusterSpec c =
      checked_profile(executor::cluster_profile_json(executor::cpu_cluster_profile(m)), m.threads, points);
  const std::string out = o.out.empty() ? c.name + ".json" : o.out;
  write_file_atomically(out, executor::cluster_profile_json(c));
  if (!o.gpu_out.empty()) write_file_atomically(o.gpu_out, executor::gpu_profile_json(c.gpu));
  if (o.json) std::cout << measurements_json(m, out).dump(1) << "\n";
  else std::cout << text(m, c, out);
}
}  // namespace

void register_calibrate(CLI::App& app) {
  auto o = std::make_shared<CalibrateOptions>();
  auto* cmd = app.add_subcommand("calibrate", "Measure this machine and write a hardware profile for it");
  cmd->add_option("--backend", o->backend, "what to measure: cpu (this machine as the CPU executor uses it) or cuda (the GPUs)")
      ->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--out", o->out, "cluster profile to write (default: cpu-<host>.json, or gpu-calibrated.json)");
  cmd->add_option("--gpu-preset", o->gpu_preset, "cuda: preset of the datasheet figures (default: by device name)");
  cmd->add_option("--gpu-out", o->gpu_out, "also write the GPU object alone (hardware/gpus format)");
  cmd->add_option("--threads", o->threads, "threads measured at once (default: all cores)")->check(CLI::Range(1, 4096));
  cmd->add_option("--seconds-per-point", o->seconds_per_point, "minimum timed seconds per measurement")
      ->check(finite_in(0.001, 60.0, "seconds"))->capture_default_str();
  cmd->add_flag("--json", o->json, "print the measurements as JSON");
  cmd->callback([o] { run_calibrate(*o); });
}

}  // namespace shardplan::cli
