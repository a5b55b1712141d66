// Ops priced alone on the H100 SXM profile (3350 GB/s x 0.88 = 2,948 GB/s achievable, 3 us per
// kernel): FP8 training (Transformer Engine's cast_transpose around every FP8 GEMM, the output
// layer kept in 16 bits) and fused attention's ramp with the keys per kernel.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "costmodel_fixtures.hpp"

#include "core/hardware.hpp"
#include "core/error.hpp"
#include "core/strategy.hpp"
#include "costmodel/block_cost.hpp"
#include "costmodel/estimate.hpp"
#include "costmodel/gemm.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

namespace {
ModelSpec gpt_layer() { return testing::gpt3_spec(1, "gpt-layer"); }
// Four Mistral-7B-v0.1 layers (GQA 32/8 heads of 128, SwiGLU 14336), no window yet.
ModelSpec mistral_like(int64_t seq_len) {
  ModelSpec m;
  m.name = "mistral-like";
  m.layers = 4, m.hidden = 4096, m.heads = 32, m.kv_heads = 8, m.head_dim = 128;
  m.ffn_hidden = 14336, m.ffn_act = "swiglu", m.norm = "rmsnorm", m.vocab = 32000, m.seq_len = seq_len;
  return m;
}

// One op of a block, priced alone at tp = 1.
BlockCost price_op(const OpGraph& g, size_t block, const std::string& op, DType precision,
                   AttentionKernel kernel = AttentionKernel::gpu_default) {
  const ClusterSpec cluster = load_cluster("dgx-h100");
  const Block only = testing::single_op_block(g, block, op);
  ShardContext c = testing::single_gpu_context(cluster, g);
  c.precision = precision;
  c.attention_kernel = kernel;
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
  CHECK(qkv.fwd_s - gemm_time_s(gpu, DType::fp8, 2048, 36864, 12288) == testing::rel(37.146e-6).epsilon(1e-3));
  CHECK(qkv.bwd_input_s - gemm_time_s(gpu, DType::fp8, 2048, 12288, 36864) ==
        testing::rel(105.44e-6).epsilon(1e-3));
  // The weight gradient GEMM reads the transposed FP8 copies made above: no further cast.
  CHECK(qkv.bwd_weight_s == testing::rel(gemm_time_s(gpu, DType::fp8, 12288, 36864, 2048)));
  // In bf16 there is no cast.
  const BlockCost bf = price_op(g, 1, "layer0.qkv", DType::bf16);
  CHECK(bf.fwd_s == testing::rel(gemm_time_s(gpu, DType::bf16, 2048, 36864, 12288)));
}

TEST_CASE("fp8: the output layer stays in 16 bits") {
  const OpGraph g = build_transformer_graph(gpt_layer());
  const GpuSpec gpu = load_gpu("h100-sxm");
  const size_t head = g.blocks.size() - 1;
  REQUIRE(g.blocks[head].type == "head");
  const BlockCost lm = price_op(g, head, "lm_head", DType::fp8);
  CHECK(lm.fwd_s == testing::rel(gemm_time_s(gpu, DType::bf16, 2048, 51200, 12288)));
  CHECK(lm.bwd_weight_s == testing::rel(gemm_time_s(gpu, DType::bf16, 12288, 51200, 2048)));
}

TEST_CASE("fused attention: the rate ramps with the keys per kernel (attention_ramp_keys)") {
  // H100 profile: forward 0.555 and backward 0.531 of 989.5 TFLOP/s at long sequences, times
  // s / (s + 300), times the sustained fraction 0.88. GPT layer, s = 2048, 96 heads of 128, one
  // sequence, tp = 1, causal: forward FLOPs 2 x 96 x 2048 x 2048 x 256 x 0.5 = 103,079,215,104.
  // ramp 2048 / 2348 = 0.87223; forward rate 989.5e12 x 0.555 x 0.87223 x 0.88 = 421.5 TFLOP/s:
  // 244.54 us + 3 us = 247.54 us. Backward 2.5x the FLOPs at 0.531: 638.98 us + 3 us = 641.98 us.
  const OpGraph g = build_transformer_graph(gpt_layer());
  const BlockCost a = price_op(g, 1, "layer0.attn_core", DType::bf16);
  CHECK(a.fwd_s == testing::rel(247.54e-6).epsilon(1e-4));
  CHECK(a.bwd_input_s == testing::rel(641.98e-6).epsilon(1e-4));
}

TEST_CASE("fused attention by head dim: the same FLOPs at 64 run at the measured 64/128 rate") {
  // The GPT layer above with 192 heads of 64 instead of 96 of 128: the same forward FLOPs
  // (103,079,215,104), at the cuDNN rate times 0.720 forward and 0.839 backward (FA3 paper, H100:
  // 388 / 539 and 433 / 516): 244.54 / 0.720 = 339.64 us + 3 us = 342.64 us forward; 638.98 /
  // 0.839 = 761.60 us + 3 us = 764.60 us backward. At 256 (48 heads): 244.54 / 0.944 = 259.05 us
  // + 3 us forward; backward unchanged (no figure at 256).
  ModelSpec m = gpt_layer();
  m.heads = m.kv_heads = 192, m.head_dim = 64;
  const BlockCost h64 = price_op(build_transformer_graph(m), 1, "layer0.attn_core", DType::bf16);
  CHECK(h64.fwd_s == testing::rel(342.64e-6).epsilon(1e-4));
  CHECK(h64.bwd_input_s == testing::rel(764.60e-6).epsilon(1e-4));
  m.heads = m.kv_heads = 48, m.head_dim = 256;
  const BlockCost h256 = price_op(build_transformer_graph(m), 1, "layer0.attn_core", DType::bf16);
  CHECK(h256.fwd_s == testing::rel(262.05e-6).epsilon(1e-4));
  CHECK(h256.bwd_input_s == testing::rel(641.98e-6).epsilon(1e-4));
}

TEST_CASE("sustained_compute_fraction slows tensor-core math, not memory-bound kernels") {
  // The H100 profile sustains 0.88 of its microbenchmark rates. 8192^3 BF16: 2 x 8192^3 =
  // 1.09951e12 FLOPs at 989.5e12 x 0.80 x 0.88 x shape efficiency (relative 1 at 8192^3) =
  // 696.6 TFLOP/s: 1.57838 ms + 3 us. With the fraction at 1: 1.38897 ms + 3 us.
  GpuSpec gpu = load_gpu("h100-sxm");
  REQUIRE(gpu.sustained_compute_fraction == 0.88);
  CHECK(gemm_time_s(gpu, DType::bf16, 8192, 8192, 8192) == testing::rel(1.58138e-3).epsilon(1e-4));
  const double mem = memory_time_s(gpu, 1e9, 1);
  gpu.sustained_compute_fraction = 1;
  CHECK(gemm_time_s(gpu, DType::bf16, 8192, 8192, 8192) == testing::rel(1.39197e-3).epsilon(1e-4));
  CHECK(memory_time_s(gpu, 1e9, 1) == mem);
}

TEST_CASE("attention kernels: a named kernel runs at its preset rates; one the preset lacks is an error") {
  // FlashAttention-2 on the H100 preset: 0.345 forward, 0.331 backward (FA3 paper), the same ramp
  // and sustained fraction as the default. Same layer as above: 103,079,215,104 FLOPs forward at
  // 989.5e12 x 0.345 x 0.87223 x 0.88 = 262.0 TFLOP/s: 393.39 us + 3 us = 396.39 us; backward
  // 2.5x at 0.331: 1025.07 us + 3 us = 1028.07 us.
  const OpGraph g = build_transformer_graph(gpt_layer());
  const BlockCost a = price_op(g, 1, "layer0.attn_core", DType::bf16, AttentionKernel::fa2);
  CHECK(a.fwd_s == testing::rel(396.39e-6).epsilon(1e-4));
  CHECK(a.bwd_input_s == testing::rel(1028.07e-6).epsilon(1e-4));

  // The A100 preset has FlashAttention-2 figures only: fa3 there is refused, as is a kernel
  // named for unfused attention.
  ClusterSpec a100 = load_cluster("dgx-a100");
  a100.set_gpu_count(8);
  const OpGraph g8 = build_transformer_graph(testing::gpt3_spec(8, "gpt3-8-layers"));
  Estimator est(g8, a100);
  Strategy s = parse_strategy_string("tp=8,mbs=1,attention_kernel=fa3", Strategy{});
  s.global_batch = 8, s.seq_len = 2048;
  CHECK(strategy_to_string(s).find(",attention_kernel=fa3") != std::string::npos);
  Estimate e = est.estimate(s);
  CHECK_FALSE(e.valid());
  CHECK(e.detail.find("has no figures for attention kernel fa3") != std::string::npos);
  s.attention_kernel = AttentionKernel::fa2;
  CHECK(est.estimate(s).valid());
  s.flash_attention = false;
  CHECK_FALSE(est.estimate(s).valid());
  CHECK_THROWS_AS(parse_strategy_string("attention_kernel=fa9", Strategy{}), UsageError);
}

TEST_CASE("fp8: GEMM inputs are saved as their FP8 copies, 29 s b h per GPT layer instead of 34") {
  // GPT-3 layer, one sequence of s = 2048, h = 12288, tp = 1, fused attention, no recompute.
  // 16-bit (Korthikanti Table 2 without the 5as/h term): LN inputs 2 + 2, QKV and FC1 inputs 2 + 2,
  // dropout masks 1 + 1, Q K V 6, attention output (the projection's input) 2, GeLU input 8, FC2
  // input 8 = 34 s b h. FP8: the QKV and FC1 inputs drop to 1 each and the FC2 input to 4; the
  // attention output stays 2 (fused attention keeps it) plus its 1-byte FP8 copy: 34 - 1 - 1 - 4 + 1
  // = 29 s b h = 29 x 2048 x 12288 = 729,808,896 B (34 s b h = 855,638,016 B).
  const OpGraph g = build_transformer_graph(gpt_layer());
  const ClusterSpec cluster = load_cluster("dgx-h100");
  REQUIRE(g.blocks[1].type == "dense_layer");
  ShardContext c = testing::single_gpu_context(cluster, g);
  c.flash = true;
  c.precision = DType::bf16;
  CHECK(price_block(g, g.blocks[1], cluster.gpu, c).saved_bytes == testing::rel(855638016.0).epsilon(1e-12));
  c.precision = DType::fp8;
  CHECK(price_block(g, g.blocks[1], cluster.gpu, c).saved_bytes == testing::rel(729808896.0).epsilon(1e-12));
  // The output layer's GEMM stays 16-bit, and so does its saved input.
  const size_t head = g.blocks.size() - 1;
  const double head_fp8 = price_block(g, g.blocks[head], cluster.gpu, c).saved_bytes;
  c.precision = DType::bf16;
  CHECK(head_fp8 == testing::rel(price_block(g, g.blocks[head], cluster.gpu, c).saved_bytes));
}

TEST_CASE("fp8: expert GEMMs save their FP8 inputs, half the 16-bit bytes") {
  // GPT layer with 8 experts of 4h, top-2, ep = 1: expert FC1 saves its routed input, 2 x 2048
  // tokens x 12288 x 2 B = 100,663,296 B in 16 bits, 50,331,648 B as FP8; expert FC2 its
  // 2 x 2048 x 49152 input, 402,653,184 B and 201,326,592 B.
  ModelSpec m = gpt_layer();
  m.moe = MoeSpec{8, 2, 4 * 12288, 0, 0};
  const OpGraph g = build_transformer_graph(m);
  REQUIRE(g.blocks[1].type == "moe_layer");
  CHECK(price_op(g, 1, "layer0.expert_fc1", DType::bf16).saved_bytes == testing::rel(100663296.0));
  CHECK(price_op(g, 1, "layer0.expert_fc1", DType::fp8).saved_bytes == testing::rel(50331648.0));
  CHECK(price_op(g, 1, "layer0.expert_fc2", DType::bf16).saved_bytes == testing::rel(402653184.0));
  CHECK(price_op(g, 1, "layer0.expert_fc2", DType::fp8).saved_bytes == testing::rel(201326592.0));
}

TEST_CASE("fused attention under a sliding window: the window's keys, at the window's ramp") {
  // GPT layer at s = 8192 with a window of 1024 keys: (1024 x 1025 + 2 x 7168 x 1024) / 8193 =
  // 1919.89 keys per query in the full-attention count; forward FLOPs 2 x 96 x 8192 x 1919.89 x
  // 256 x 0.5 = 386,525,039,232. Each query sees at most 1024 keys: ramp 1024 / 1324 = 0.77341,
  // forward rate 989.5e12 x 0.555 x 0.77341 x 0.88 = 373.77 TFLOP/s: 1034.13 us + 3 us =
  // 1037.13 us; backward 2.5x the FLOPs at 0.531: 2702.17 us + 3 us = 2705.17 us. Without the
  // window: 1,649,267,441,664 FLOPs at the 8192-key ramp (0.96467): 3540.69 us forward.
  ModelSpec m = gpt_layer();
  m.seq_len = 8192;
  const OpGraph full = build_transformer_graph(m);
  m.attention.window = 1024;
  const OpGraph windowed = build_transformer_graph(m);
  const BlockCost w = price_op(windowed, 1, "layer0.attn_core", DType::bf16);
  CHECK(w.fwd_s == testing::rel(1037.13e-6).epsilon(1e-4));
  CHECK(w.bwd_input_s == testing::rel(2705.17e-6).epsilon(1e-4));
  CHECK(price_op(full, 1, "layer0.attn_core", DType::bf16).fwd_s == testing::rel(3540.69e-6).epsilon(1e-4));
  // Model FLOPs: the window's keys (fwd + bwd = 3x the forward's 2 x keys x 96 x 256 per token).
  CHECK(w.model_flops == testing::rel(3 * 2.0 * 1919.89064 * 96 * 256 * 8192).epsilon(1e-6));
}

TEST_CASE("sliding window: an estimate sees it, and at a sequence within the window it changes nothing") {
  // Mistral-7B-v0.1-like layers (window 4096) at 32k tokens: the windowed model is faster; at a
  // sequence no longer than the window it costs what full attention costs.
  ModelSpec m = mistral_like(32768);
  ClusterSpec cluster = load_cluster("dgx-h100");
  cluster.set_gpu_count(8);
  Strategy s = parse_strategy_string("tp=8,mbs=1", Strategy{});
  s.dp = 1, s.global_batch = 8, s.seq_len = m.seq_len;
  ModelSpec w = m;
  w.attention.window = 4096;
  const OpGraph gf = build_transformer_graph(m), gw = build_transformer_graph(w);
  const Estimate ef = Estimator(gf, cluster).estimate(s), ew = Estimator(gw, cluster).estimate(s);
  REQUIRE(ef.valid());
  REQUIRE(ew.valid());
  // Per token and layer, attention is 537 M forward FLOPs of the 973 M at 32k tokens, 126 M with the
  // window: the step loses about a quarter (the rest is GEMMs, memory-bound ops, communication).
  CHECK(ew.step_time_s < 0.8 * ef.step_time_s);
  CHECK(ew.model_tflops_per_gpu < ef.model_tflops_per_gpu);  // fewer FLOPs, counted honestly
  m.seq_len = w.seq_len = s.seq_len = 4096;
  const Estimate sf = Estimator(build_transformer_graph(m), cluster).estimate(s);
  const Estimate sw = Estimator(build_transformer_graph(w), cluster).estimate(s);
  CHECK(sw.step_time_s == testing::rel(sf.step_time_s));
}

TEST_CASE("context parallelism under a sliding window exchanges only the window's keys") {
  // Mistral-like layers at 8k tokens, cp 8 across two nodes (tp 2): each rank holds two chunks of
  // L = 8192 / 16 = 512 queries. Full causal attention rings the K/V of all 7 other ranks through
  // (7 steps); a window of w keys needs a halo of w keys before each chunk, 2w tokens = w / L
  // steps' worth: 1 step at w = 512, 2 at 1024, 4 at 2048, and from (cp-1) L = 3584 on the ring's 7.
  // On a network slowed 10^4 times the exchange dwarfs the attention it overlaps, so the exposed
  // CP time is the step count times one step's forward and backward exchange: in the ratios
  // 1 : 2 : 4 : 7 : 7 to the full ring.
  ModelSpec m = mistral_like(8192);
  ClusterSpec cluster = load_cluster("dgx-h100");
  cluster.set_gpu_count(16);
  cluster.network.back().bandwidth_GBps *= 1e-4;
  Strategy s = parse_strategy_string("tp=2,cp=8,mbs=1", Strategy{});
  s.dp = 1, s.global_batch = 16, s.seq_len = m.seq_len;
  auto cp_exposed = [&](int64_t window) {
    ModelSpec x = m;
    x.attention.window = window;
    const Estimate e = Estimator(build_transformer_graph(x), cluster).estimate(s);
    REQUIRE(e.valid());
    return e.breakdown.cp_comm_s;
  };
  const double ring = cp_exposed(0);
  REQUIRE(ring > 0);
  CHECK(cp_exposed(512) / ring == testing::rel(1.0 / 7).epsilon(0.01));
  CHECK(cp_exposed(1024) / ring == testing::rel(2.0 / 7).epsilon(0.01));
  CHECK(cp_exposed(2048) / ring == testing::rel(4.0 / 7).epsilon(0.01));
  CHECK(cp_exposed(4096) / ring == testing::rel(1.0).epsilon(0.01));
}

TEST_CASE("post_norms, logit_softcap and geglu each move the estimate as their ops say") {
  // A Gemma-2-2B-like model on one node: the two extra norms a layer and the softcap pass over the
  // 256k-wide logits are memory-bound time and kept activations; geglu costs what swiglu costs.
  ModelSpec m;
  m.name = "gemma-like";
  m.layers = 4, m.hidden = 2304, m.heads = 8, m.kv_heads = 4, m.head_dim = 256;
  m.ffn_hidden = 9216, m.ffn_act = "swiglu", m.norm = "rmsnorm", m.vocab = 256000, m.seq_len = 8192;
  m.tied_embeddings = true;
  ClusterSpec cluster = load_cluster("dgx-h100");
  cluster.set_gpu_count(8);
  Strategy s = parse_strategy_string("tp=1,mbs=1,zero=1", Strategy{});
  s.dp = 8, s.global_batch = 8, s.seq_len = m.seq_len;
  auto est = [&](const ModelSpec& x) { return Estimator(build_transformer_graph(x), cluster).estimate(s); };
  const Estimate base = est(m);
  REQUIRE(base.valid());
  ModelSpec g = m;
  g.ffn_act = "geglu";
  CHECK(est(g).step_time_s == testing::rel(base.step_time_s));
  g.post_norms = true;
  const Estimate post = est(g);
  CHECK(post.step_time_s > base.step_time_s);
  CHECK(post.peak_memory_bytes > base.peak_memory_bytes);
  g.logit_softcap = true;
  const Estimate cap = est(g);
  CHECK(cap.step_time_s > post.step_time_s);
  // The capped logits kept for backward: 2 B x 256000 x 8192 tokens = 4.19 GB more at the head.
  CHECK(cap.peak_memory_bytes - post.peak_memory_bytes == testing::rel(2.0 * 256000 * 8192).epsilon(0.05));
}

TEST_CASE("unfused attention: the scores' softmax and dropout passes, beyond the batched GEMMs' own traffic") {
  // GPT-3 layer, s = 2048, 96 heads of 128, tp = 1, bf16: 96 x 2048 x 2048 = 402,653,184 scores.
  // gemm_time_s already prices QK^T writing the scores and AV reading the probabilities (its
  // roofline counts the output and operands), so only the passes between them are added, at
  // 3350 GB/s x 0.88 = 2.948e12 B/s and 3 us a kernel:
  //   no dropout: forward softmax read 2 + write 2 = 4 B a score: 1,610,612,736 B = 546.34 us + 3 us;
  //     backward softmax reads y and dy and writes dx, 6 B: 2,415,919,104 B = 819.51 us + 2 x 3 us;
  //   with attention dropout (GPT): forward + read 2 + write 2 + 1-byte mask = 9 B: 1229.27 us +
  //     2 x 3 us; backward + read 2 + mask 1 + write 2 = 11 B: 1502.44 us + 3 x 3 us.
  const OpGraph g = build_transformer_graph(gpt_layer());
  const ClusterSpec cluster = load_cluster("dgx-h100");
  const GpuSpec& gpu = cluster.gpu;
  ShardContext c = testing::single_gpu_context(cluster, g);
  c.flash = false;
  c.precision = DType::bf16;
  const double gemm_fwd = gemm_time_s(gpu, DType::bf16, 2048, 2048, 128, 96) + gemm_time_s(gpu, DType::bf16, 2048, 128, 2048, 96);
  const double gemm_bwd = 2 * gemm_time_s(gpu, DType::bf16, 2048, 2048, 128, 96) + 2 * gemm_time_s(gpu, DType::bf16, 2048, 128, 2048, 96);
  const BlockCost plain = price_block(g, testing::single_op_block(g, 1, "layer0.attn_core"), gpu, c);
  CHECK(plain.fwd_s - gemm_fwd == testing::rel(549.34e-6).epsilon(1e-4));
  CHECK(plain.bwd_input_s - gemm_bwd == testing::rel(825.51e-6).epsilon(1e-4));
  // The attention core with the layer's dropout op beside it (which prices its own pass on the
  // h-wide output): the core's score passes grow to the dropout variant.
  Block with_dropout = testing::single_op_block(g, 1, "layer0.attn_core");
  const Block dropout_only = testing::single_op_block(g, 1, "layer0.attn_dropout");
  with_dropout.ops.push_back(dropout_only.ops.front());
  const BlockCost d = price_block(g, with_dropout, gpu, c), d_op = price_block(g, dropout_only, gpu, c);
  CHECK(d.fwd_s - d_op.fwd_s - gemm_fwd == testing::rel(1235.27e-6).epsilon(1e-4));
  CHECK(d.bwd_input_s - d_op.bwd_input_s - gemm_bwd == testing::rel(1511.44e-6).epsilon(1e-4));
}
