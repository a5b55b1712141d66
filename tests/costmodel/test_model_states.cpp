// Model-state memory per GPU (weights, gradients, Adam) through Estimator::estimate's stages on a
// tiny GPT: Megatron's 18 bytes/parameter and ZeRO stages 1-3 dividing by dp (FORMULAS.md).
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "core/hardware.hpp"
#include "costmodel/collectives.hpp"
#include "costmodel/estimate.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

namespace {
// Tiny GPT: L = 2, h = 64, a = 4, V = 128, s = 32, tied embeddings, gpt-style (biases, learned
// positions). Parameters (docs/model-spec.md convention, Narayanan §5.1):
//   per layer 12h^2 + 13h = 49,152 + 832 = 49,984; two layers 99,968
//   embedding V h + positions s h = 8,192 + 2,048 = 10,240; final layernorm 2h = 128; head tied: 0
//   P = 99,968 + 10,240 + 128 = 110,336.
constexpr double kP = 110336;
ModelSpec tiny_gpt() {
  ModelSpec m;
  m.name = "tiny-gpt";
  m.layers = 2;
  m.hidden = 64;
  m.heads = 4;
  m.kv_heads = 4;
  m.head_dim = 16;
  m.ffn_hidden = 256;
  m.vocab = 128;
  m.seq_len = 32;
  m.tied_embeddings = true;
  return m;
}

Estimate run(const Strategy& s, int64_t gpus = 8) {
  static const OpGraph g = build_transformer_graph(tiny_gpt());
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(gpus);
  Estimator est(g, c);
  return est.estimate(s);
}

// Stage 0's memory of a strategy that must be valid.
StageMemory stage0(const Strategy& s) {
  Estimate e = run(s);
  REQUIRE(e.valid());
  return e.stages[0];
}

Strategy dp8(int zero) {
  Strategy s;
  s.dp = 8;
  s.global_batch = 8;
  s.zero = zero;
  return s;
}
}  // namespace

TEST_CASE("model states: 18 bytes per parameter in bf16 without ZeRO (Megatron)") {
  // bf16 weight 2 + fp32 gradient 4 + fp32 master, Adam m, v 12 = 18 bytes/parameter:
  //   2P = 220,672; 4P = 441,344; 12P = 1,324,032; 18P = 1,986,048 bytes.
  Estimate e = run(dp8(0));
  REQUIRE(e.valid());
  REQUIRE(e.stages.size() == 1);
  const StageMemory& m = e.stages[0];
  CHECK(m.params_bytes == testing::rel(2 * kP).epsilon(1e-12));
  CHECK(m.grads_bytes == testing::rel(4 * kP).epsilon(1e-12));
  CHECK(m.optimizer_bytes == testing::rel(12 * kP).epsilon(1e-12));
  CHECK(m.params_bytes + m.grads_bytes + m.optimizer_bytes ==
        testing::rel(1986048.0).epsilon(1e-12));
}

TEST_CASE(
    "model states: ZeRO-1 divides the optimizer by dp, ZeRO-2 the gradients, ZeRO-3 the weights") {
  // dp = 8. ZeRO-1: 12P/8 = 165,504. ZeRO-2: also 4P/8 = 55,168. ZeRO-3: also 2P/8 = 27,584.
  // Plus the transient full-size tensors of the largest block (a layer, 49,984 parameters):
  // ZeRO-2/3 compute a block's gradient in full before reduce-scattering it, and the next block's
  // beside that reduction (2 x 4 B x 49,984 = 399,872), and ZeRO-3 gathers the current and the
  // prefetched block (2 x 2 B x 49,984 = 199,936). The executor's measured peaks show the
  // gathered blocks (tests/executor/memory_model_test.cpp).
  Estimate z1 = run(dp8(1)), z2 = run(dp8(2)), z3 = run(dp8(3));
  REQUIRE(z1.valid());
  REQUIRE(z2.valid());
  REQUIRE(z3.valid());
  CHECK(z1.stages[0].params_bytes == testing::rel(2 * kP).epsilon(1e-12));
  CHECK(z1.stages[0].grads_bytes == testing::rel(4 * kP).epsilon(1e-12));
  CHECK(z1.stages[0].optimizer_bytes == testing::rel(165504.0).epsilon(1e-12));
  CHECK(z2.stages[0].params_bytes == testing::rel(2 * kP).epsilon(1e-12));
  CHECK(z2.stages[0].grads_bytes == testing::rel(55168.0 + 2 * 199936).epsilon(1e-12));
  CHECK(z2.stages[0].optimizer_bytes == testing::rel(165504.0).epsilon(1e-12));
  CHECK(z3.stages[0].params_bytes == testing::rel(27584.0 + 199936).epsilon(1e-12));
  CHECK(z3.stages[0].grads_bytes == testing::rel(55168.0 + 2 * 199936).epsilon(1e-12));
  CHECK(z3.stages[0].optimizer_bytes == testing::rel(165504.0).epsilon(1e-12));
}

TEST_CASE("model states: fp32 training keeps 16 bytes per parameter") {
  // fp32 weights are the master copy: weight 4 + gradient 4 + Adam m, v 8 = 16P = 1,765,376 B.
  Strategy s = dp8(0);
  s.precision = DType::fp32;
  const StageMemory m = stage0(s);
  CHECK(m.params_bytes + m.grads_bytes + m.optimizer_bytes ==
        testing::rel(16 * kP).epsilon(1e-12));
}

TEST_CASE("model states: two pipeline stages split the parameters at the layer boundary") {
  // pp = 2, dp = 4 (8 GPUs): Megatron's even split, the embedding with stage 0, the head with 1.
  //   stage 0: embedding 10,240 + layer 49,984 = 60,224 params -> 2 * 60,224 = 120,448 B weights
  //   stage 1: layer 49,984 + final norm 128 = 50,112 params   -> 100,224 B weights,
  //   plus the tied output layer's copy of the word embedding, V h = 8,192 -> 116,608 B
  //   (the next test case); the stages together hold the model once plus that copy.
  Strategy s;
  s.dp = 4;
  s.pp = 2;
  s.global_batch = 8;
  Estimate e = run(s);
  REQUIRE(e.valid());
  REQUIRE(e.stages.size() == 2);
  CHECK(e.chunk_bounds == std::vector<int64_t>{0, 2, 4});
  CHECK(e.stages[0].params_bytes == testing::rel(120448.0).epsilon(1e-12));
  CHECK(e.stages[1].params_bytes == testing::rel(100224.0 + 2 * 8192).epsilon(1e-12));
  CHECK(e.stages[0].params_bytes + e.stages[1].params_bytes ==
        testing::rel(2 * (kP + 8192)).epsilon(1e-12));
}

TEST_CASE(
    "model states: with tied embeddings and pp > 1 the last stage holds a copy of the word "
    "embedding") {
  // Megatron-LM (setup_embeddings_and_output_layer; Narayanan et al. 2021 §3.2 run GPT with tied
  // embeddings): when the embedding and the output layer are on different pipeline stages, the
  // last stage allocates its own V x h/t output weight (a parameter with gradient and Adam states,
  // kept equal to stage 0's by an all-reduce over the embedding group). Stage 1 should hold
  //   layer 49,984 + final norm 128 + word embedding copy V h = 8,192 -> 58,304 params,
  //   i.e. 2 * 58,304 = 116,608 B of weights and 18 * 58,304 = 1,049,472 B of model states.
  // (Fixed: the Estimator adds the tied copy to the last pipeline chunk.)
  Strategy s;
  s.dp = 4;
  s.pp = 2;
  s.global_batch = 8;
  Estimate e = run(s);
  REQUIRE(e.valid());
  REQUIRE(e.stages.size() == 2);
  CHECK(e.stages[1].params_bytes == testing::rel(116608.0).epsilon(1e-9));
  const StageMemory& m = e.stages[1];
  CHECK(m.params_bytes + m.grads_bytes + m.optimizer_bytes ==
        testing::rel(1049472.0).epsilon(1e-9));
}

TEST_CASE("memory: pipeline buffers hold what a stage sends and what it receives") {
  // pp = 2, micro-batch 1 x s = 32 tokens, h = 64, 16-bit: a boundary activation is 4,096 B.
  // Stage 0 sends activations and receives their gradients (2 x 4,096); stage 1 receives the
  // activations and sends their gradients back (2 x 4,096); the head sends nothing on.
  Strategy s;
  s.dp = 4;
  s.pp = 2;
  s.global_batch = 8;
  Estimate e = run(s);
  REQUIRE(e.valid());
  REQUIRE(e.stages.size() == 2);
  CHECK(e.stages[0].buffers_bytes == 8192.0);
  CHECK(e.stages[1].buffers_bytes == 8192.0);
}

TEST_CASE("model states: tensor parallelism splits the word embedding and weights, not positions or row biases") {
  // Megatron's GPT embedding is a vocab-parallel word table (V h / t per rank) and a learned
  // position table (s h) that every TP rank holds whole. tp = 2, pp = 2, dp = 2:
  //   stage 0: words 8,192 / 2 + positions 2,048 = 6,144 + layer 0
  //   stage 1: layer 1 + final norm 128 + tied output copy V h / 2 = 4,096 -> 4,224 + layer
  //   stage 0 - stage 1 = 1,920 params = 3,840 B of 16-bit weights (1,792 B if the positions
  //   were split too).
  Strategy s;
  s.tp = 2;
  s.dp = 2;
  s.pp = 2;
  s.global_batch = 8;
  Estimate e = run(s);
  REQUIRE(e.valid());
  REQUIRE(e.stages.size() == 2);
  CHECK(e.stages[0].params_bytes - e.stages[1].params_bytes == testing::rel(3840.0).epsilon(1e-9));
  // A layer at tp = 2 (h = 64): column-parallel QKV and fc1 split weights and biases, (12,288 +
  // 192) / 2 + (16,384 + 256) / 2 = 14,560; row-parallel attn_out and fc2 split their weights and
  // keep their biases whole (Megatron adds them after the all-reduce), 4,096 / 2 + 64 + 16,384 / 2
  // + 64 = 10,368; two layernorms 256: 25,184. Stage 1: 25,184 + 128 + 4,096 = 29,408 params.
  CHECK(e.stages[1].params_bytes == testing::rel(2 * 29408.0).epsilon(1e-9));
}

TEST_CASE(
    "model states: context-parallel ranks are gradient replicas, so ZeRO and the reduction span "
    "dp*cp") {
  // Megatron-LM with --context-parallel-size: CP ranks hold the same weights and each computes
  // gradients of its own sequence chunk, so the gradients are reduced over the data-parallel
  // group *with* context parallelism (dp * cp ranks) and the distributed optimizer shards over it
  // (parallel_state.get_data_parallel_group(with_context_parallel=True)).
  // cp = 2, dp = 1 on 2 A100s (s = 32 is divisible by 2 cp = 4), ZeRO-1, no overlap:
  //   optimizer states 12P / (dp cp) = 12 * 110,336 / 2 = 662,016 B;
  //   DP traffic, the two ranks on NVLink (300 GB/s * 0.77 = 2.31e11 B/s, alpha 3 us):
  //   reduce-scatter of the 4P = 441,344 B of fp32 gradients, 3e-6 + 1/2 * 441,344/2.31e11
  //   = 3.955e-6 s, then all-gather of the 2P = 220,672 B of bf16 weights, 3e-6 + 4.777e-7
  //   = 3.478e-6 s: 7.433e-6 s in all.
  Strategy s;
  s.cp = 2;
  s.global_batch = 2;
  s.zero = 1;
  s.overlap_grad_reduce = false;
  Estimate e = run(s, 2);
  REQUIRE(e.valid());
  CHECK(e.stages[0].optimizer_bytes == testing::rel(662016.0).epsilon(1e-9));
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(2);
  const NetworkLevel& nv = c.network.front();
  const double expected = ring_all_gather_s(2, 4 * kP, nv) + ring_all_gather_s(2, 2 * kP, nv);
  CHECK(expected == testing::rel(7.433e-6).epsilon(1e-3));
  CHECK(e.breakdown.dp_comm_s == testing::rel(expected).epsilon(1e-9));
}

TEST_CASE("model states: under pipeline parallelism ZeRO-2/3 hold ZeRO-1's states at the peak") {
  // torchtitan's FSDP2 through torch.distributed.pipelining keeps a stage's gradients whole until
  // the last micro-batch and its parameters gathered after each backward (grads_sharded_in_step):
  // dp = 4 x pp = 2, 8 micro-batches. Each stage's weights, gradients and optimizer states equal
  // ZeRO-1's (2 + 4 B whole, 12 B over 4); without the pipeline ZeRO-3 shards all three.
  auto states = [](int zero, int64_t pp) {
    Strategy s;
    s.dp = 8 / pp, s.pp = pp, s.zero = zero, s.global_batch = 64, s.overlap_grad_reduce = false;
    Estimate e = run(s);
    REQUIRE(e.valid());
    std::vector<double> out;
    for (const StageMemory& m : e.stages) out.insert(out.end(), {m.params_bytes, m.grads_bytes, m.optimizer_bytes});
    return std::make_pair(out, e);
  };
  const auto [z1, e1] = states(1, 2);
  for (int zero : {2, 3}) {
    const auto [z, e] = states(zero, 2);
    CHECK(z == z1);
    // ZeRO-2 moves what ZeRO-1 moves; ZeRO-3 re-gathers the weights before every backward too.
    if (zero == 2) CHECK(e.step_time_s == testing::rel(e1.step_time_s).epsilon(1e-12));
    else CHECK(e.step_time_s > e1.step_time_s);
  }
  // Without the pipeline ZeRO-3 shards the gradients: 4 B over 8, plus one block whole (the
  // reduction is not overlapped here, so each block's is done before the next's: 255,104 B).
  const auto [flat1, f1] = states(1, 1);
  const auto [flat3, f3] = states(3, 1);
  CHECK(flat1[1] == testing::rel(4 * kP));
  CHECK(flat3[1] == testing::rel(55168.0 + 199936));
  CHECK(flat3[1] < flat1[1]);
}

TEST_CASE("model states: gradients reduced in bf16 are 16 bytes per parameter and half the DP traffic") {
  // --grad-reduce-dtype bf16 (Megatron's --grad-reduce-in-bf16): bf16 weight 2 + bf16 gradient 2
  // + fp32 master, Adam m, v 12 = 16 bytes/parameter, the ZeRO paper's figure (FORMULAS.md):
  //   2P = 220,672; 2P = 220,672; 12P = 1,324,032; 16P = 1,765,376 bytes.
  Strategy s = dp8(0);
  s.grad_reduce = DType::bf16;
  const StageMemory m = stage0(s);
  CHECK(m.grads_bytes == testing::rel(2 * kP).epsilon(1e-12));
  CHECK(m.params_bytes + m.grads_bytes + m.optimizer_bytes == testing::rel(1765376.0).epsilon(1e-12));
  // The cp = 2 case above with bf16 gradients: the reduce-scatter moves 2P = 220,672 B,
  //   3e-6 + 1/2 * 220,672 / 2.31e11 = 3.478e-6 s, then the same 3.478e-6 s all-gather of the
  //   weights: 6.956e-6 s in all (7.433e-6 s with fp32 gradients).
  Strategy c2;
  c2.cp = 2;
  c2.global_batch = 2;
  c2.zero = 1;
  c2.overlap_grad_reduce = false;
  c2.grad_reduce = DType::bf16;
  Estimate ec = run(c2, 2);
  REQUIRE(ec.valid());
  CHECK(ec.breakdown.dp_comm_s == testing::rel(6.956e-6).epsilon(1e-3));
}

TEST_CASE("model states: gradients are reduced in fp32 or in the training's 16-bit type") {
  Strategy s = dp8(0);
  s.grad_reduce = DType::fp16;  // bf16 training
  CHECK(run(s).reason == Reason::precision);
  s.precision = DType::fp16;
  CHECK(run(s).valid());
  s.precision = DType::fp32;
  CHECK(run(s).reason == Reason::precision);
  s.grad_reduce = DType::bf16;
  s.precision = DType::fp8;  // FP8 training keeps 16-bit tensors in bf16
  CHECK(grad_reduce_error(s).empty());
  s.precision = DType::fp16;
  CHECK(grad_reduce_error(s) == "gradients reduced in bf16 need bf16 or fp8 training (precision is fp16)");
}

TEST_CASE("model states: FP8 weights gathered in FP8 (--fp8-param-gather) keep 2 bytes and gather 1") {
  // On H100 FP8 training keeps every weight in bf16 (2 B per parameter) and, for the layers'
  // GEMMs, Transformer Engine's cached FP8 copy and FP8 transpose (2 B more per GEMM parameter):
  // per layer qkv 192 x 64 + 192, attn_out 64 x 64 + 64, fc1 256 x 64 + 256, fc2 64 x 256 + 64
  // = 49,728 (biases counted with their GEMM), two layers 99,456; the embedding, norms and the
  // (tied, 16-bit) output layer have no FP8 copy. 2 * 110,336 + 2 * 99,456 = 419,584 B.
  // With fp8_param_gather only the FP8 weight and its transpose (2 B), and the distributed
  // optimizer all-gathers the GEMM weights in 1 B and the rest (embedding, norms: 10,880) in 2 B.
  // cp = 2, dp = 1 on 2 H100s, ZeRO-1, no overlap (NVLink 450 GB/s * 0.84 = 3.78e11 B/s, alpha 2.5 us):
  //   reduce-scatter of 4P = 441,344 B: 2.5e-6 + 1/2 * 441,344 / 3.78e11 = 3.084e-6 s;
  //   all-gather of 99,456 + 2 * 10,880 = 121,216 B: 2.5e-6 + 1/2 * 121,216 / 3.78e11 = 2.660e-6 s;
  //   5.744e-6 s in all (2P = 220,672 B: 2.792e-6 s, 5.876e-6 s without the flag).
  static const OpGraph g = build_transformer_graph(tiny_gpt());
  ClusterSpec c = load_cluster("dgx-h100");
  c.set_gpu_count(2);
  Estimator est(g, c);
  Strategy s;
  s.cp = 2, s.global_batch = 2, s.zero = 1, s.overlap_grad_reduce = false, s.precision = DType::fp8;
  Estimate plain = est.estimate(s);
  s.fp8_param_gather = true;
  Estimate fp8w = est.estimate(s);
  REQUIRE(plain.valid());
  REQUIRE(fp8w.valid());
  CHECK(plain.stages[0].params_bytes == testing::rel(419584).epsilon(1e-12));
  CHECK(fp8w.stages[0].params_bytes == testing::rel(2 * kP).epsilon(1e-12));
  CHECK(plain.breakdown.dp_comm_s == testing::rel(5.876e-6).epsilon(1e-3));
  CHECK(fp8w.breakdown.dp_comm_s == testing::rel(5.744e-6).epsilon(1e-3));
  // ZeRO-3 (dp = 2) gathers two blocks beside the shard (2 * 110,336 / 2 = 110,336 B): the
  // largest block is a layer (49,984 params, 49,728 of them FP8) and the most 16-bit parameters
  // of any block are the embedding's 10,240, so of the 2 * 49,984 = 99,968 gathered elements at
  // most 2 * 10,240 = 20,480 are 16-bit: 79,488 + 2 * 20,480 = 120,448 B (99,968 B if all were
  // counted at 1 B).
  Strategy z3;
  z3.dp = 2, z3.global_batch = 2, z3.zero = 3, z3.precision = DType::fp8, z3.fp8_param_gather = true;
  Estimate ez = est.estimate(z3);
  REQUIRE(ez.valid());
  CHECK(ez.stages[0].params_bytes == testing::rel(110336.0 + 120448.0).epsilon(1e-12));
  // Only for FP8 training with ZeRO >= 1 (the distributed optimizer or FSDP gathers the weights).
  s.zero = 0;
  CHECK(est.estimate(s).reason == Reason::options);
  s.zero = 1, s.precision = DType::bf16;
  CHECK(est.estimate(s).reason == Reason::options);
}
