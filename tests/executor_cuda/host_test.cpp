// The CUDA backend's host-side parts, which run without a GPU: bf16 rounding, the check macros'
// messages, the embedding rows grouping, pipeline links, device-name presets, the profile a
// calibration writes, the plans the backend refuses, and a clean error (not a crash) where there
// is no GPU.
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>

#include "../executor/tiny_model.hpp"
#include "executor/cuda/calibrate_cuda.hpp"
#include "executor/cuda/check.hpp"
#include "executor/cuda/model.hpp"
#include "executor/cuda/run_cuda.hpp"
#include "executor/cuda/trainer.hpp"
#include "gpu_test.hpp"

using namespace shardplan;
using namespace shardplan::executor;
using namespace shardplan::executor::cuda;

TEST_CASE("bf16 rounds to nearest even and keeps NaN") {
  CHECK(to_bf16(1.0f).bits == 0x3f80);
  CHECK(to_bf16(-2.0f).bits == 0xc000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0); a bit above rounds up.
  CHECK(to_bf16(1.0f + 0x1p-8f).bits == 0x3f80);
  CHECK(to_bf16(1.0f + 0x1p-8f + 0x1p-20f).bits == 0x3f81);
  CHECK(to_bf16(1.0f + 3 * 0x1p-8f).bits == 0x3f82);  // 1 + 3·2^-8 ties up to the even 0x3f82
  CHECK(std::isnan(to_float(to_bf16(std::nanf("")))));
  CHECK(to_float(to_bf16(0.15625f)) == 0.15625f);  // exactly representable
  const float x = 3.14159f;
  CHECK(std::abs(to_float(to_bf16(x)) - x) <= x * 0x1p-8f);
}

TEST_CASE("check macros name the call, the site and the library's message") {
  try {
    SHARDPLAN_CUDA_CHECK(cudaErrorInvalidValue);
    FAIL("no throw");
  } catch (const CudaError& e) {
    const std::string m = e.what();
    CHECK(m.find("CUDA error at ") == 0);
    CHECK(m.find("host_test.cpp:") != std::string::npos);
    CHECK(m.find("cudaErrorInvalidValue") != std::string::npos);
    CHECK(m.find("invalid argument") != std::string::npos);
  }
  try {
    SHARDPLAN_CUBLAS_CHECK(CUBLAS_STATUS_NOT_INITIALIZED);
    FAIL("no throw");
  } catch (const CudaError& e) {
    const std::string m = e.what();
    CHECK(m.find("cuBLAS error at ") == 0);
    CHECK(m.find("CUBLAS_STATUS_NOT_INITIALIZED") != std::string::npos);
  }
  CHECK_NOTHROW(SHARDPLAN_CUDA_CHECK(cudaSuccess));
}

TEST_CASE("embedding rows group a shard's tokens by row, in token order") {
  // Shard rows [10, 20): tokens 3 and 25 belong to other ranks.
  const std::vector<int32_t> tokens = {12, 3, 15, 12, 25, 10, 12};
  const EmbeddingRows e = embedding_rows(tokens, 10, 10);
  CHECK(e.rows == std::vector<int32_t>{0, 2, 5});
  CHECK(e.starts == std::vector<int32_t>{0, 1, 4, 5});
  CHECK(e.positions == std::vector<int32_t>{5, 0, 3, 6, 2});
  const EmbeddingRows none = embedding_rows({1, 2}, 10, 10);
  CHECK(none.rows.empty());
  CHECK(none.starts == std::vector<int32_t>{0});
}

TEST_CASE("pipeline links: one per direction of each stage boundary, deduplicated") {
  Strategy s;
  s.pp = 2;
  s.tp = 2;
  // Ranks (dp, pp, tp): stage 0 holds 0, 1; stage 1 holds 2, 3.
  std::vector<P2PLink> l = pipeline_links(s);
  CHECK(l == std::vector<P2PLink>{{0, 2, 0}, {2, 0, 1}, {1, 3, 0}, {3, 1, 1}});
  s.tp = 1;
  s.vp = 2;  // virtual stages 0..3 on ranks 0,1,0,1: the wrap 1 -> 0 carries activations too
  l = pipeline_links(s);
  CHECK(l == std::vector<P2PLink>{{0, 1, 0}, {1, 0, 1}, {1, 0, 0}, {0, 1, 1}});
  s.pp = 1;
  s.vp = 1;
  CHECK(pipeline_links(s).empty());
}

TEST_CASE("device names map to the GPU presets their datasheet figures come from") {
  const double gib = double(int64_t{1} << 30);
  CHECK(preset_for_device("NVIDIA H200", 140 * gib) == "h200");
  CHECK(preset_for_device("NVIDIA H100 80GB HBM3", 80 * gib) == "h100-sxm");
  CHECK(preset_for_device("NVIDIA A100-SXM4-80GB", 80 * gib) == "a100-80g");
  CHECK(preset_for_device("NVIDIA A100-SXM4-40GB", 40 * gib) == "a100-40g");
  CHECK(preset_for_device("NVIDIA B200", 180 * gib) == "b200");
  CHECK(preset_for_device("NVIDIA GB200", 185 * gib) == "gb200");
  CHECK(preset_for_device("NVIDIA GeForce RTX 4090", 24 * gib) == "");
}

TEST_CASE("plans the CUDA backend refuses say why") {
  const ModelSpec m = testing::tiny();
  RunOptions o = testing::options(m, "tp=2");
  CHECK(cuda_unsupported_reason(o, 1) == "");
  CHECK(cuda_unsupported_reason(o, 2) == "");  // nproc = dp·tp·pp
  CHECK(cuda_unsupported_reason(o, 3).find("nproc (3) must be 1") == 0);
  o.checkpoint_dir = "/tmp/x";
  CHECK(cuda_unsupported_reason(o, 1) == "checkpoints are not supported by the CUDA executor yet");
  RunOptions odd = testing::options(m, "");
  odd.model.head_dim = 12;
  odd.model.hidden = 48;
  CHECK(cuda_unsupported_reason(odd, 1).find("head_dim a multiple of 8") != std::string::npos);
  odd.strategy.flash_attention = false;  // unfused attention (cuBLAS) takes any head_dim
  CHECK(cuda_unsupported_reason(odd, 1) == "");
  RunOptions cp = testing::options(m, "cp=2");
  CHECK(cuda_unsupported_reason(cp, 1) ==
        "context parallelism is not supported by the CUDA executor yet");
}

TEST_CASE("without a GPU, running fails with the reason instead of crashing") {
  if (gpu_test::gpu_problem().empty()) return;  // this machine has one: the GPU tests cover it
  const RunOptions o = testing::options(testing::tiny(), "tp=2", 1);
  try {
    run_training_cuda(o, 1);
    FAIL("no throw");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("cannot run on the CUDA backend: no") == 0);
  }
  CHECK_THROWS_WITH_AS(calibrate_cuda(), doctest::Contains("calibrate --backend cuda: no"),
                       std::runtime_error);
}

TEST_CASE("a calibration becomes a valid cluster profile with the measured fractions") {
  setenv("SHARDPLAN_HARDWARE", SHARDPLAN_SOURCE_DIR "/hardware", 1);
  CudaCalibration m;  // what an H200 might measure
  m.device = "NVIDIA H200";
  m.devices = 2;
  m.sms = 132;
  m.versions = "driver 13.0, CUDA runtime 13.0, cuBLAS 130000, NCCL 2.28.9";
  m.memory_total_bytes = 150754820096.0;
  m.base_preset = "h200";
  m.gemm = {{8192, 8192, 8192, "bf16", 760.0}, {1024, 1024, 1024, "bf16", 400.0},
            {8192, 8192, 8192, "fp32", 50.0}};
  m.attention_fwd_tflops = 20.0;
  m.attention_bwd_tflops = 10.0;
  m.attention_shape = "batch 4, 16 heads x 128, seq 4096, causal";
  m.copy_GBps = 4000.0;
  m.launch_us = 2.5;
  m.reserved_bytes = 6e8;
  m.all_reduce = {{1 << 13, 20e-6, 0.2}, {1 << 30, 3e-3, 357.9}};
  m.latency_us = 10.0;
  m.bus_GBps = 357.9;
  const ClusterSpec c = cuda_cluster_profile(m);
  const ClusterSpec back = cluster_from_json_text(cuda_cluster_profile_json(c, m), "profile.json");
  CHECK(back.name == "dgx-h200-calibrated");
  CHECK(back.gpu.name == "h200-calibrated");
  // Datasheet figures stay the preset's; fractions are measured / datasheet.
  CHECK(back.gpu.peak_tflops[static_cast<int>(DType::bf16)] == 989.5);
  CHECK(back.gpu.memory_bandwidth_GBps == 4800);
  CHECK(back.gpu.gemm_peak_fraction == doctest::Approx(760.0 / 989.5));
  // Attention was measured at 4096 keys, where the cost model's ramp (h200: attention_ramp_keys
  // 300) gives 4096 / 4396 of the rate: the fraction is measured / (peak x ramp), 20 / (989.5 x
  // 0.93176) = 0.021693, so that the profile prices the measured shape at the measured rate.
  CHECK(back.gpu.attention_fwd_fraction == doctest::Approx(20.0 / (989.5 * 4096.0 / 4396.0)));
  CHECK(back.gpu.attention_bwd_fraction == doctest::Approx(10.0 / (989.5 * 4096.0 / 4396.0)));
  CHECK(back.gpu.memory_bandwidth_fraction == doctest::Approx(4000.0 / 4800));
  CHECK(back.gpu.kernel_overhead_us == doctest::Approx(2.5));
  CHECK(back.gpu.runtime_reserved_bytes == doctest::Approx(6e8));
  CHECK(back.gpu.memory_bytes == m.memory_total_bytes);
  CHECK(back.gpu.source.at("gemm_peak_fraction").find("8192x8192x8192 at 760.0 TFLOP/s") !=
        std::string::npos);
  // The NVLink level carries the measured bus bandwidth (of 450 GB/s nominal) and latency.
  REQUIRE(back.network.size() == 2);
  CHECK(back.network[0].efficiency == doctest::Approx(357.9 / 450));
  CHECK(back.network[0].latency_us == doctest::Approx(10.0));
  CHECK(back.network[1] == load_cluster("dgx-h200").network[1]);
}
