// Whole plans on one GPU: the CUDA backend trains the tiny decoders of the CPU tests to the CPU
// backend's losses (bf16 against float32), every TP/PP/DP/ZeRO/SP/recompute/schedule plan (all
// ranks on one GPU through the local communicator) matches the single-rank GPU run, a plan run
// twice is bit-identical, and with two or more GPUs the NCCL multi-process run (shardplan-cuda
// train --nproc 2) matches the local one.
//
// Tolerances, first estimates to confirm on a GPU: bf16 parameters and activations carry 2^-8
// relative rounding, so losses of different plans (different GEMM shapes, reduction orders) may
// differ by a few 1e-3 relative; against the float32 CPU backend 2e-2.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../executor/tiny_model.hpp"
#include "executor/cuda/comm_nccl.hpp"
#include "executor/cuda/run_cuda.hpp"
#include "executor/train.hpp"
#include "gpu_test.hpp"

using namespace shardplan;
using namespace shardplan::executor;
using testing::options;
using testing::tiny;

namespace {

constexpr double kPlanTol = 1e-2, kCpuTol = 2e-2, kParamTol = 3e-2;

struct GpuRun {
  RunReport report;
  ParamStore<float> params;
};

// AdamW eps 1e-5 as the CPU float32 tests (executor/plans_test.cpp explains why).
AdamWConfig adamw() {
  AdamWConfig a;
  a.eps = 1e-5;
  return a;
}

std::unique_ptr<GpuRun> gpu_run(const ModelSpec& m, const std::string& plan) {
  auto r = std::make_unique<GpuRun>();
  r->report = cuda::train_local(options(m, plan), &r->params, adamw());
  return r;
}

double loss_err(const RunReport& a, const RunReport& ref) {
  REQUIRE(a.losses.size() == ref.losses.size());
  double e = 0;
  for (size_t i = 0; i < a.losses.size(); ++i)
    e = std::max(e, std::abs(a.losses[i] - ref.losses[i]) / std::abs(ref.losses[i]));
  return e;
}

// max|a-b| / max|b| over every tensor.
double param_err(const ParamStore<float>& a, const ParamStore<float>& ref, std::string& where) {
  double worst = 0;
  for (const auto& [name, b] : ref.tensors) {
    auto it = a.tensors.find(name);
    if (it == a.tensors.end() || it->second.size() != b.size()) {
      where = name + " missing";
      return 1e30;
    }
    const double e = gpu_test::rel_err(it->second, b);
    if (e > worst) worst = e, where = name;
  }
  return worst;
}

const std::vector<std::string> kPlansA = {"tp=2",
                                          "tp=4,sp",
                                          "pp=2",
                                          "pp=4,schedule=gpipe,mbs=2",
                                          "pp=2,vp=2,schedule=interleaved",
                                          "pp=4,schedule=zb",
                                          "dp=2",
                                          "dp=2,zero=1",
                                          "dp=2,zero=2,mbs=2",
                                          "dp=2,zero=3",
                                          "recompute=full,mbs=4",
                                          "tp=2,pp=2,dp=2,sp,zero=1,recompute=selective",
                                          "tp=2,pp=2,sp,recompute=full,schedule=zb",
                                          "flash_attention=off",
                                          "tp=2,flash_attention=off,recompute=selective",
                                          "pp=2,flash_attention=off,schedule=zb"};
const std::vector<std::string> kPlansB = {"tp=2,sp",
                                          "pp=2",
                                          "pp=4,dp=2,zero=2",
                                          "tp=2,pp=2,dp=2,zero=3,recompute=full,sp",
                                          "tp=2,pp=2,vp=2,schedule=interleaved,zero=1,dp=2",
                                          "tp=2,sp,flash_attention=off"};

void check_plans(const ModelSpec& m, const std::string& ref_plan,
                 const std::vector<std::string>& plans) {
  auto ref = gpu_run(m, ref_plan);
  REQUIRE(ref->report.losses.size() == 5);
  CHECK(ref->report.losses[4] < ref->report.losses[0]);  // it learns
  for (const std::string& plan : plans) {
    auto r = gpu_run(m, plan);
    const RunReport cpu = train<float>(options(m, plan), nullptr, adamw());
    std::string where;
    const double pe = param_err(r->params, ref->params, where);
    INFO(m.name << " plan " << plan << ": loss err vs 1 GPU rank "
                << loss_err(r->report, ref->report) << ", vs CPU " << loss_err(r->report, cpu)
                << ", param err " << pe << " at " << where);
    CHECK(loss_err(r->report, ref->report) <= kPlanTol);
    CHECK(loss_err(r->report, cpu) <= kCpuTol);
    CHECK(pe <= kParamTol);
  }
}

}  // namespace

TEST_CASE("one GPU rank trains to the CPU backend's losses and parameters") {
  SKIP_WITHOUT_GPU();
  for (bool variant : {false, true}) {
    const ModelSpec m = tiny(variant);
    auto g = gpu_run(m, "");
    ParamStore<float> cpu_params;
    const RunReport cpu = train<float>(options(m, ""), &cpu_params, adamw());
    std::string where;
    const double pe = param_err(g->params, cpu_params, where);
    INFO(m.name << ": losses GPU " << g->report.losses[0] << " .. " << g->report.losses[4]
                << ", CPU " << cpu.losses[0] << " .. " << cpu.losses[4] << "; param err " << pe
                << " at " << where);
    CHECK(g->report.losses[4] < g->report.losses[0]);
    CHECK(loss_err(g->report, cpu) <= kCpuTol);
    CHECK(pe <= kParamTol);
    CHECK(g->report.step_times_s.size() == 5);
    REQUIRE(g->report.device_peak_bytes.size() == 1);
    CHECK(g->report.device_peak_bytes[0] > 0);
    CHECK(g->report.peak_bytes_per_rank[0].peak_total_bytes > 0);
  }
}

TEST_CASE("plans on one GPU match the single rank: MHA, LayerNorm, GELU, untied head") {
  SKIP_WITHOUT_GPU();
  check_plans(tiny(false), "", kPlansA);
}

TEST_CASE("plans on one GPU match the single rank: GQA, RMSNorm, SwiGLU, tied embeddings") {
  SKIP_WITHOUT_GPU();
  check_plans(tiny(true), "mbs=8", kPlansB);
}

TEST_CASE("the same plan twice on the GPU gives bit-identical losses and parameters") {
  SKIP_WITHOUT_GPU();
  const ModelSpec m = tiny(true);
  const std::string plan = "tp=2,pp=2,dp=2,sp,zero=3,schedule=zb";
  auto a = gpu_run(m, plan), b = gpu_run(m, plan);
  CHECK(a->report.losses == b->report.losses);
  CHECK(a->params.tensors == b->params.tensors);
}

#if defined(SHARDPLAN_CUDA_TOOL) || defined(SHARDPLAN_CLI)
namespace {
// What `cmd` prints on stdout; it must exit 0.
std::string stdout_of(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  for (size_t k; (k = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
  REQUIRE(pclose(p) == 0);
  return out;
}
}  // namespace
#endif

#ifdef SHARDPLAN_CUDA_TOOL
TEST_CASE("NCCL across processes (shardplan-cuda train --nproc 2) matches the local run") {
  SKIP_WITHOUT_GPU();
  if (!cuda::nccl_built() || cuda::device_count() < 2) {
    MESSAGE("skipped: needs NCCL and two GPUs");
    return;
  }
  const ModelSpec m = tiny(true);
  const std::string spec = "/tmp/shardplan-cuda-test-tiny.json";
  std::ofstream(spec) << model_spec_to_json_text(m);
  const std::string cmd =
      std::string(SHARDPLAN_CUDA_TOOL) + " train --model " + spec +
      " --plan dp=2,zero=1 --global-batch 8 --steps 5 --seed 7 --nproc 2 --comm-timeout 60";
  const auto j = nlohmann::json::parse(stdout_of(cmd));
  const RunReport local = cuda::train_local(options(m, "dp=2,zero=1"));
  REQUIRE(j["steps"].size() == local.losses.size());
  for (size_t i = 0; i < local.losses.size(); ++i)
    CHECK(j["steps"][i]["loss"].get<double>() == doctest::Approx(local.losses[i]).epsilon(1e-3));
}
#endif

#ifdef SHARDPLAN_CLI
TEST_CASE("the main CLI's run --backend cuda trains as the CUDA executor does") {
  // `shardplan run --backend cuda` (cli/cuda_backend.cpp) on one GPU: a TP plan's two ranks on
  // GPU 0, the same losses as the executor's local run of the same plan and seed.
  SKIP_WITHOUT_GPU();
  const ModelSpec m = tiny(true);
  const std::string spec = "/tmp/shardplan-cli-cuda-test-tiny.json";
  std::ofstream(spec) << model_spec_to_json_text(m);
  const std::string cmd = std::string(SHARDPLAN_CLI) + " run --backend cuda --model " + spec +
                          " --gpus 2 --tp 2 --global-batch 8 --micro-batch 1 --steps 5 --seed 7 --json";
  const auto j = nlohmann::json::parse(stdout_of(cmd));
  CHECK(j["backend"] == "cuda");
  CHECK(j["device_peak_bytes"].size() == 1);
  const RunReport local = cuda::train_local(options(m, "tp=2"));
  REQUIRE(j["steps"].size() == local.losses.size());
  for (size_t i = 0; i < local.losses.size(); ++i)
    CHECK(j["steps"][i]["loss"].get<double>() == doctest::Approx(local.losses[i]).epsilon(1e-3));
}
#endif
