// Fused-attention rates by head dim in the GPU presets (hardware/gpus/*.json): the interpolation
// by hand, the file format's round trip, and bad values at their JSON paths.
#include <doctest/doctest.h>

#include <cmath>

#include "tests/approx.hpp"

#include "core/error.hpp"
#include "core/hardware.hpp"
#include "core/hardware_json.hpp"

using namespace shardplan;

TEST_CASE("attention head dim: H100 figures at 64 and 256, log-linear between, flat outside") {
  const GpuSpec h100 = load_gpu("h100-sxm");
  const AttentionKernel d = AttentionKernel::gpu_default;
  // cuDNN (the default): forward 388 / 539 TFLOP/s at 64 against 128 = 0.720, backward 433 / 516
  // = 0.839; 509 / 539 = 0.944 forward at 256, no backward figure there (1).
  CHECK(h100.attention_head_dim_factor(d, 128, false) == 1.0);
  CHECK(h100.attention_head_dim_factor(d, 64, false) == testing::rel(0.720));
  CHECK(h100.attention_head_dim_factor(d, 64, true) == testing::rel(0.839));
  CHECK(h100.attention_head_dim_factor(d, 256, false) == testing::rel(0.944));
  CHECK(h100.attention_head_dim_factor(d, 256, true) == 1.0);
  // 96 (Phi-3-mini): log2(96) - 7 = -0.41504, 1 - 0.41504 x 0.280 = 0.88379.
  CHECK(h100.attention_head_dim_factor(d, 96, false) == testing::rel(0.88379).epsilon(1e-5));
  // 160 (DeepSeek-V3's MLA, the mean of Q.K's 192 and P.V's 128): 0.32193 x -0.056 -> 0.98197.
  CHECK(h100.attention_head_dim_factor(d, 160, false) == testing::rel(0.98197).epsilon(1e-5));
  // Outside the measured range the end figure holds.
  CHECK(h100.attention_head_dim_factor(d, 32, false) == testing::rel(0.720));
  CHECK(h100.attention_head_dim_factor(d, 512, false) == testing::rel(0.944));
  // Named kernels have their own: FlashAttention-3 is faster per FLOP at 256 (642 / 616).
  CHECK(h100.attention_head_dim_factor(AttentionKernel::fa3, 256, false) == testing::rel(1.042));
  CHECK(h100.attention_head_dim_factor(AttentionKernel::fa2, 64, true) == testing::rel(0.904));
  // No figures (the A100 preset): 1 everywhere.
  CHECK(load_gpu("a100-80g").attention_head_dim_factor(d, 64, false) == 1.0);
}

TEST_CASE("attention head dim: the table round-trips through the file format") {
  const GpuSpec h100 = load_gpu("h100-sxm");
  const GpuSpec back = gpu_from_json_text(gpu_to_json(h100).dump(), "back.json");
  CHECK(back.attention_head_dim_scale == h100.attention_head_dim_scale);
  CHECK(back == h100);
}

TEST_CASE("attention head dim: bad values and keys are refused at their JSON paths") {
  auto gpu = [](const std::string& extra) {
    return R"({"name": "g", "memory_bytes": 1e10, "memory_bandwidth_GBps": 1000, "sms": 100,
               "peak_tflops": {"fp32": 10, "bf16": 100})" + extra + "}";
  };
  CHECK(gpu_from_json_text(gpu(R"(, "attention_head_dim": {"64": {"fwd": 0.5}})"), "g.json")
            .attention_head_dim_factor(AttentionKernel::gpu_default, 64, false) == 0.5);
  CHECK_THROWS_WITH_AS(gpu_from_json_text(gpu(R"(, "attention_head_dim": {"64": {"fwd": 0}})"), "g.json"),
                       doctest::Contains("g.json: at /attention_head_dim/64/fwd: expected a rate relative"), InputError);
  CHECK_THROWS_WITH_AS(gpu_from_json_text(gpu(R"(, "attention_head_dim": {"96": {"fwd": 0.9}})"), "g.json"),
                       doctest::Contains("/attention_head_dim"), InputError);
  CHECK_THROWS_WITH_AS(
      gpu_from_json_text(gpu(R"(, "attention_kernels": {"fa2": {"fwd": 0.3, "bwd": 0.3, "head_dim": {"64": {"bwd": 3}}}})"),
                         "g.json"),
      doctest::Contains("/attention_kernels/fa2/head_dim/64/bwd"), InputError);
  CHECK_THROWS_WITH_AS(gpu_from_json_text(gpu(R"(, "attention_head_dim": {"64": {"fwd": 0.9, "dq": 1}})"), "g.json"),
                       doctest::Contains("/attention_head_dim/64"), InputError);
}
