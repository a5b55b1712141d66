// Ops priced alone on the H100 SXM profile (3350 GB/s x 0.88 = 2,948 GB/s achievable, 3 us per
// kernel): FP8 training (Transformer Engine's cast_transpose around every FP8 GEMM, the output
// layer kept in 16 bits) and fused attention's ramp with the keys per kernel.
#include <doctest/doctest.h>

#include "gpt3_spec.hpp"

#include "core/hardware.hpp"
#include "costmodel/block_cost.hpp"
#include "costmodel/gemm.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

namespace {
ModelSpec gpt_layer() { return testing::gpt3_spec(1, "gpt-layer"); }

// One op of a block, priced alone at tp = 1.
BlockCost price_op(const OpGraph& g, size_t block, const std::string& op, DType precision) {
  const ClusterSpec cluster = load_cluster("dgx-h100");
  Block only = g.blocks[block];
  only.ops.clear();
  for (int64_t v : g.blocks[block].ops)
    if (g.op(v).name == op) only.ops.push_back(v);
  REQUIRE(only.ops.size() == 1);
  ShardContext c;
  c.seq_len = g.seq_len;
  c.precision = precision;
  c.tp_group = place_group(cluster, 1, 1);
  c.cp_group = place_group(cluster, 1, 1);
  c.ep_group = place_group(cluster, 1, 1);
  return price_block(g, only, cluster.gpu, c);
}
}  // namespace

TEST_CASE("fp8: every layer GEMM pays the cast_transpose of its input and of its output gradient") {
  const OpGraph g = build_transformer_graph(gpt_layer());
  const GpuSpec gpu = load_gpu("h100-sxm");
  // QKV: input 2048 tokens x 12288, output 2048 x 36864.
  // Forward cast: 4 B x 2048 x 12288 = 100,663,296 B / 2.948e12 B/s = 34.146 us + 3 us = 37.146 us.
  // Backward cast: 4 B x 2048 x 36864 = 301,989,888 B / 2.948e12 = 102.44 us + 3 us = 105.44 us.
  const BlockCost qkv = price_op(g, 1, "layer0.qkv", DType::fp8);
  CHECK(qkv.fwd_s - gemm_time_s(gpu, DType::fp8, 2048, 36864, 12288) == doctest::Approx(37.146e-6).epsilon(1e-3));
  CHECK(qkv.bwd_input_s - gemm_time_s(gpu, DType::fp8, 2048, 12288, 36864) ==
        doctest::Approx(105.44e-6).epsilon(1e-3));
  // The weight gradient GEMM reads the transposed FP8 copies made above: no further cast.
  CHECK(qkv.bwd_weight_s == doctest::Approx(gemm_time_s(gpu, DType::fp8, 12288, 36864, 2048)));
  // In bf16 there is no cast.
  const BlockCost bf = price_op(g, 1, "layer0.qkv", DType::bf16);
  CHECK(bf.fwd_s == doctest::Approx(gemm_time_s(gpu, DType::bf16, 2048, 36864, 12288)));
}

TEST_CASE("fp8: the output layer stays in 16 bits") {
  const OpGraph g = build_transformer_graph(gpt_layer());
  const GpuSpec gpu = load_gpu("h100-sxm");
  const size_t head = g.blocks.size() - 1;
  REQUIRE(g.blocks[head].type == "head");
  const BlockCost lm = price_op(g, head, "lm_head", DType::fp8);
  CHECK(lm.fwd_s == doctest::Approx(gemm_time_s(gpu, DType::bf16, 2048, 51200, 12288)));
  CHECK(lm.bwd_weight_s == doctest::Approx(gemm_time_s(gpu, DType::bf16, 12288, 51200, 2048)));
}

TEST_CASE("fused attention: the rate ramps with the keys per kernel (attention_ramp_keys)") {
  // H100 profile: forward 0.555 and backward 0.531 of 989.5 TFLOP/s at long sequences, times
  // s / (s + 300). GPT layer, s = 2048, 96 heads of 128, one sequence, tp = 1, causal:
  // forward FLOPs 2 x 96 x 2048 x 2048 x 256 x 0.5 = 103,079,215,104.
  // ramp 2048 / 2348 = 0.87223; forward rate 989.5e12 x 0.555 x 0.87223 = 479.0 TFLOP/s:
  // 215.19 us + 3 us = 218.19 us. Backward 2.5x the FLOPs at 0.531: 562.3 us + 3 us = 565.3 us.
  const OpGraph g = build_transformer_graph(gpt_layer());
  const BlockCost a = price_op(g, 1, "layer0.attn_core", DType::bf16);
  CHECK(a.fwd_s == doctest::Approx(218.19e-6).epsilon(1e-3));
  CHECK(a.bwd_input_s == doctest::Approx(565.3e-6).epsilon(1e-3));
}
