// shardplan-cuda: the CUDA backend as a program of its own, so that the main CLI stays free of
// the CUDA libraries (loading cuBLAS and NCCL costs every `shardplan` call half a second):
// `info` (GPUs, NCCL), `train` (a model and a strategy string on the GPU, JSON report;
// scripts/gpu-check.sh), `run` (a run's options as executor/run_json.hpp writes them, the
// report likewise; what `shardplan run --backend cuda` calls) and `calibrate` (the hardware
// profile; what `shardplan calibrate --backend cuda` calls). Exit status 0 ok, 1 failure, 2 bad
// usage.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/hardware.hpp"
#include "core/json_reader.hpp"
#include "core/strategy.hpp"
#include "executor/cuda/calibrate_cuda.hpp"
#include "executor/cuda/comm_nccl.hpp"
#include "executor/cuda/device.hpp"
#include "executor/cuda/run_cuda.hpp"
#include "executor/run_json.hpp"
#include "graph/model_loader.hpp"

using namespace shardplan;
using OJ = nlohmann::ordered_json;

namespace {

struct TrainArgs {
  std::string model, plan = "";
  int64_t global_batch = 8, seq_len = 0, layers = 0;
  int steps = 5, nproc = 1;
  int64_t timeout_s = 300;
  uint64_t seed = 1;
};

int info() {
  const std::string why = executor::cuda::no_gpu_reason();
  OJ j{{"gpus", executor::cuda::device_count()},
       {"gpu_problem", why},
       {"nccl", executor::cuda::nccl_version()}};
  std::cout << j.dump(1) << "\n";
  return why.empty() ? 0 : 1;
}

int train(const TrainArgs& a) {
  executor::RunOptions r;
  LoadedModel lm = load_model(a.model, a.seq_len);
  if (!lm.spec)
    throw UsageError("--model " + a.model + ": an op graph; the executor runs transformer specs");
  r.model = *lm.spec;
  if (a.layers > 0) r.model.layers = a.layers;
  Strategy base;
  base.global_batch = a.global_batch;
  r.strategy = a.plan.empty() ? base : parse_strategy_string(a.plan, base);  // no --plan: one rank
  r.strategy.seq_len = r.model.seq_len;
  r.steps = a.steps;
  r.seed = a.seed;
  // Workers exec this program afresh ("/proc/self/exe"), so this process may use CUDA first.
  const executor::RunReport rep =
      executor::run_training_cuda(r, a.nproc, std::chrono::seconds(a.timeout_s), "/proc/self/exe");
  OJ steps = OJ::array();
  for (size_t i = 0; i < rep.losses.size(); ++i)
    steps.push_back({{"step", i + 1},
                     {"loss", rep.losses[i]},
                     {"grad_norm", rep.grad_norms[i]},
                     {"time_s", rep.step_times_s[i]}});
  OJ ranks = OJ::array();
  for (const auto& m : rep.peak_bytes_per_rank)
    ranks.push_back({{"rank", m.rank}, {"peak_total_bytes", m.peak_total_bytes}});
  OJ j{{"backend", "cuda"},
       {"model", r.model.name},
       {"layers", r.model.layers},
       {"strategy", strategy_to_string(r.strategy)},
       {"global_batch", r.strategy.global_batch},
       {"seq_len", r.model.seq_len},
       {"nproc", a.nproc},
       {"steps", steps},
       {"step_time_s", rep.step_time_s},
       {"tokens_per_s", rep.tokens_per_s},
       {"tracked_peak_bytes_per_rank", ranks},
       {"device_peak_bytes", rep.device_peak_bytes}};
  std::cout << j.dump(1) << "\n";
  return 0;
}

// `run`: the options file in, the report out (both executor/run_json.hpp).
int run(const std::string& options_file, int nproc, int64_t timeout_s) {
  const executor::RunOptions o = executor::run_options_from_json(read_input_file(options_file), options_file);
  // Started by mpirun, PMI or torchrun: this process is one rank; only rank 0 prints the report.
  if (const auto env = executor::launch_env()) {
    if (nproc != 1)
      throw UsageError("--nproc " + std::to_string(nproc) + ": started by " + env->launcher +
                       ", which starts the ranks (one process per GPU); drop it");
    const auto rep = executor::cuda::train_launched(o, *env, std::chrono::seconds(timeout_s));
    if (rep) std::cout << executor::run_report_to_json(*rep) << "\n";
    return 0;
  }
  const executor::RunReport rep =
      executor::run_training_cuda(o, nproc, std::chrono::seconds(timeout_s), "/proc/self/exe");
  std::cout << executor::run_report_to_json(rep) << "\n";
  return 0;
}

int calibrate(const executor::cuda::CudaCalibrationOptions& o, const std::string& out, bool json) {
  const executor::cuda::CudaCalibration m = executor::cuda::calibrate_cuda(o);
  const ClusterSpec c = executor::cuda::cuda_cluster_profile(m);
  const std::string text = executor::cuda::cuda_cluster_profile_json(c, m);
  const std::string path = out.empty() ? c.name + ".json" : out;
  std::ofstream(path) << text;
  OJ gemm = OJ::array();
  for (const auto& p : m.gemm)
    gemm.push_back({{"m", p.m}, {"n", p.n}, {"k", p.k}, {"math", p.math}, {"tflops", p.tflops}});
  OJ ar = OJ::array();
  for (const auto& p : m.all_reduce)
    ar.push_back({{"bytes", p.bytes}, {"time_s", p.time_s}, {"bus_GBps", p.bus_GBps}});
  OJ j{{"device", m.device},
       {"devices", m.devices},
       {"versions", m.versions},
       {"base_preset", m.base_preset},
       {"gemm", gemm},
       {"attention_fwd_tflops", m.attention_fwd_tflops},
       {"attention_bwd_tflops", m.attention_bwd_tflops},
       {"copy_GBps", m.copy_GBps},
       {"pointwise_GBps", m.pointwise_GBps},
       {"pointwise_detail", m.pointwise_detail},
       {"launch_us", m.launch_us},
       {"reserved_bytes", m.reserved_bytes},
       {"all_reduce", ar},
       {"profile", path},
       {"gemm_peak_fraction", c.gpu.gemm_peak_fraction},
       {"attention_fwd_fraction", c.gpu.attention_fwd_fraction},
       {"attention_bwd_fraction", c.gpu.attention_bwd_fraction},
       {"memory_bandwidth_fraction", c.gpu.memory_bandwidth_fraction}};
  if (json)
    std::cout << j.dump(1) << "\n";
  else
    std::cout << "wrote " << path << " (" << m.device << ", " << m.versions << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (int rc = 0; executor::run_cuda_worker_if_requested(argc, argv, &rc)) return rc;
  set_program_path(argv[0]);
  CLI::App app{"shardplan's CUDA executor: info, train, calibrate"};
  app.require_subcommand(1);
  auto* info_cmd = app.add_subcommand("info", "GPUs and NCCL of this machine (JSON)");
  TrainArgs t;
  auto* train_cmd =
      app.add_subcommand("train", "train a model with a strategy on the GPU(s); JSON report");
  train_cmd->add_option("--model", t.model, "zoo name or transformer spec")->required();
  train_cmd->add_option("--plan", t.plan, "strategy string, e.g. tp=2,pp=2,mbs=2,recompute=full");
  train_cmd->add_option("--global-batch", t.global_batch, "sequences per step")
      ->capture_default_str();
  train_cmd->add_option("--seq-len", t.seq_len, "override the sequence length");
  train_cmd->add_option("--layers", t.layers, "override the layer count");
  train_cmd->add_option("--steps", t.steps, "optimizer steps")->capture_default_str();
  train_cmd->add_option("--nproc", t.nproc, "1: every rank on GPU 0; else one process per GPU")
      ->capture_default_str();
  train_cmd->add_option("--seed", t.seed, "weights and synthetic data")->capture_default_str();
  train_cmd
      ->add_option("--comm-timeout", t.timeout_s,
                   "seconds before a hung NCCL operation aborts every rank")
      ->capture_default_str();
  std::string options_file;
  int run_nproc = 1;
  int64_t run_timeout_s = 300;
  auto* run_cmd = app.add_subcommand("run", "run the options of executor/run_json.hpp; JSON report (shardplan run --backend cuda)");
  run_cmd->add_option("--options", options_file, "options file")->required();
  run_cmd->add_option("--nproc", run_nproc, "1: every rank on GPU 0; else one process per GPU")->capture_default_str();
  run_cmd->add_option("--comm-timeout", run_timeout_s, "seconds before a hung NCCL operation aborts every rank")
      ->capture_default_str();
  executor::cuda::CudaCalibrationOptions co;
  std::string out;
  bool json = false;
  auto* cal_cmd = app.add_subcommand("calibrate", "measure the GPU(s) and write a cluster profile");
  cal_cmd->add_option("--out", out, "profile to write (default <cluster>-calibrated.json)");
  cal_cmd->add_option("--gpu-preset", co.gpu_preset,
                      "preset of the datasheet figures (default: by device name)");
  cal_cmd->add_option("--seconds-per-point", co.seconds_per_point, "timed seconds per measurement")
      ->capture_default_str();
  cal_cmd->add_flag("--json", json, "print the measurements as JSON");
  try {
    app.parse(argc, argv);
    if (*info_cmd) return info();
    if (*train_cmd) return train(t);
    if (*run_cmd) return run(options_file, run_nproc, run_timeout_s);
    if (*cal_cmd) return calibrate(co, out, json);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "shardplan-cuda: %s\n", e.what());
    return 2;
  } catch (const InputError& e) {
    std::fprintf(stderr, "shardplan-cuda: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shardplan-cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
