// The job's slowest GPU (costmodel/gpu_variation.hpp): the expected maximum of n standard normals,
// the slowdown it gives a job on n GPUs, and what it scales (tensor-core math only).
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "costmodel_fixtures.hpp"

#include "core/error.hpp"
#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "costmodel/block_cost.hpp"
#include "costmodel/gpu_variation.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

TEST_CASE("gpu variation: Blom's expected maximum against the exact values") {
  // Exact E[max of n standard normals] (Harter's 1961 tables): n = 2: 1/sqrt(pi) = 0.56419;
  // n = 8: 1.42360; n = 100: 2.50759; n = 1000: 3.24144. Blom's Phi^-1((n - 0.375)/(n + 0.25))
  // gives 0.58946, 1.43420, 2.49859, 3.22729 (4.5% over at n = 2, 0.7% at 8, 0.4% under beyond).
  CHECK(expected_max_standard_normal(1) == 0);
  CHECK(expected_max_standard_normal(0) == 0);
  CHECK(expected_max_standard_normal(2) == testing::rel(0.58946).epsilon(1e-4));
  CHECK(expected_max_standard_normal(8) == testing::rel(1.43420).epsilon(1e-4));
  CHECK(expected_max_standard_normal(100) == testing::rel(2.49859).epsilon(1e-4));
  CHECK(expected_max_standard_normal(1000) == testing::rel(3.22729).epsilon(1e-4));
  CHECK(expected_max_standard_normal(2) == testing::rel(0.56419).epsilon(0.045));
  CHECK(expected_max_standard_normal(1000) == testing::rel(3.24144).epsilon(5e-3));
  // It grows with n, slowly (about sqrt(2 ln n)).
  CHECK(expected_max_standard_normal(10000000) > expected_max_standard_normal(3072));
  CHECK(expected_max_standard_normal(10000000) < 5.5);
}

TEST_CASE("gpu variation: a job on n GPUs runs at the slowest of n") {
  GpuSpec gpu = load_gpu("a100-80g");
  REQUIRE(gpu.clock_variation == 0.012);
  // 1 GPU: no slower one to wait for. 8: 1 + 0.012 x 1.43420 = 1.0172104. 3072: Phi^-1(3071.625 /
  // 3072.25) = 3.53559 -> 1.042427.
  CHECK(slowest_gpu_factor(gpu, 1) == 1);
  CHECK(slowest_gpu_factor(gpu, 8) == testing::rel(1.0172104).epsilon(1e-7));
  CHECK(slowest_gpu_factor(gpu, 3072) == testing::rel(1.042427).epsilon(1e-6));
  gpu.clock_variation = 0;
  CHECK(slowest_gpu_factor(gpu, 3072) == 1);
}

TEST_CASE("gpu variation: the slowest GPU's tensor-core math is slower, its memory-bound kernels are not") {
  const ClusterSpec cluster = load_cluster("dgx-a100");
  const OpGraph g = build_transformer_graph(testing::gpt3_spec(1, "gpt-layer"));
  ShardContext c = testing::single_gpu_context(cluster, g);
  const Block qkv = testing::single_op_block(g, 1, "layer0.qkv");
  const Block norm = testing::single_op_block(g, 1, "layer0.attn_norm");
  const BlockCost gemm1 = price_block(g, qkv, cluster.gpu, c), norm1 = price_block(g, norm, cluster.gpu, c);
  c.slowest_gpu = 1.05;
  const BlockCost gemm2 = price_block(g, qkv, cluster.gpu, c), norm2 = price_block(g, norm, cluster.gpu, c);
  // The GEMM's compute time (less its 4 us launch) grows by 5%; the LayerNorm's time is unchanged.
  CHECK(gemm2.fwd_s - 4e-6 == testing::rel((gemm1.fwd_s - 4e-6) * 1.05).epsilon(1e-9));
  CHECK(norm2.fwd_s == norm1.fwd_s);
  CHECK(norm2.bwd_input_s == norm1.bwd_input_s);
}

TEST_CASE("gpu variation: a strategy's context carries the slowdown of its GPU count") {
  const ClusterSpec cluster = load_cluster("dgx-a100");
  Strategy s;
  s.tp = 8;
  s.pp = 4;
  s.dp = 2;
  s.global_batch = 64;
  const ShardContext c = shard_context(s, cluster, 2048);
  CHECK(c.slowest_gpu == testing::rel(slowest_gpu_factor(cluster.gpu, 64)).epsilon(1e-15));
  CHECK(c.slowest_gpu > 1.02);
}

TEST_CASE("gpu variation: clock_variation is read from a GPU file and checked") {
  const std::string base = R"({"name": "g", "memory_bytes": 1e10, "memory_bandwidth_GBps": 1000, "sms": 10,
                               "peak_tflops": {"fp32": 10, "bf16": 100})";
  CHECK(gpu_from_json_text(base + R"(, "clock_variation": 0.02})", "g.json").clock_variation == 0.02);
  CHECK(gpu_from_json_text(base + "}", "g.json").clock_variation == 0);
  CHECK_THROWS_WITH_AS(gpu_from_json_text(base + R"(, "clock_variation": -0.01})", "g.json"),
                       doctest::Contains("clock_variation"), InputError);
  CHECK_THROWS_WITH_AS(gpu_from_json_text(base + R"(, "clock_variation": 0.5})", "g.json"),
                       doctest::Contains("expected a relative standard deviation"), InputError);
  CHECK_THROWS_AS(gpu_from_json_text(base + R"(, "clock_variation": "1%"})", "g.json"), InputError);
}
