// Saved activations of one GPT layer against Korthikanti et al. 2022 Table 2 (unfused attention,
// every parallelism and recompute setting), through price_block on a built transformer graph.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "costmodel_fixtures.hpp"

#include "core/hardware.hpp"
#include "costmodel/block_cost.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

namespace {
// GPT-3 175B's layer shape (Korthikanti Table 3): h = 12288, a = 96, s = 2048; 2 layers suffice
// (block 1 is the first layer). 4h MLP, layernorm + gelu: GPT lineage with dropout.
constexpr double kH = 12288, kA = 96, kS = 2048;
ModelSpec gpt_layer_spec() { return testing::gpt3_spec(2, "gpt3-layer"); }

const OpGraph& graph() {
  static const OpGraph g = build_transformer_graph(gpt_layer_spec());
  return g;
}

BlockCost cost_of(size_t block, int64_t t, bool sp, Recompute r, int64_t b = 1,
                  bool flash = false) {
  const OpGraph& g = graph();
  static const ClusterSpec cluster = load_cluster("dgx-a100");
  ShardContext c;
  c.tp = t;
  c.sp = sp;
  c.flash = flash;
  c.recompute = r;
  c.micro_batch = b;
  c.seq_len = g.seq_len;
  c.tp_group = place_group(cluster, t, 1);
  c.cp_group = place_group(cluster, 1, t);
  c.ep_group = place_group(cluster, 1, 1);
  return price_block(g, g.blocks[block], cluster.gpu, c);
}

BlockCost layer_cost(int64_t t, bool sp, Recompute r, int64_t b = 1, bool flash = false) {
  REQUIRE(graph().blocks[1].type == "dense_layer");
  return cost_of(1, t, sp, r, b, flash);
}

// s*b*h, the unit of Table 2.
double sbh(double b) {
  return kS * b * kH;
}
}  // namespace

// Table 2's terms are exact in the graph: the replicated LN inputs (2+2), QKV and FC1 inputs (2+2)
// and the two 1-byte dropout masks (1+1) make the 10; Q,K,V (6), attention-output input (2),
// GeLU input (8) and FC2 input (8) make the 24/t; softmax (2), attention-dropout mask (1) and
// its output (2) per score make 5as/h. So the tests ask for 1e-9, far inside the brief's 1%.

TEST_CASE(
    "activation memory: TP without SP saves s b h (10 + 24/t + 5as/(ht)) (Korthikanti Table 2)") {
  // t = 8, b = 1: 10 + 3 + 5*96*2048/(12288*8) = 13 + 10 = 23 -> 23 * 2048*12288 = 578,813,952 B.
  for (int64_t t : {1, 2, 4, 8}) {
    CAPTURE(t);
    double expected = sbh(1) * (10 + 24.0 / t + 5 * kA * kS / (kH * t));
    CHECK(layer_cost(t, false, Recompute::none).saved_bytes ==
          testing::rel(expected).epsilon(1e-9));
  }
  CHECK(layer_cost(8, false, Recompute::none).saved_bytes ==
        testing::rel(578813952.0).epsilon(1e-9));
  // t = 1 is Table 2's "no parallelism" row, s b h (34 + 5as/h).
  CHECK(layer_cost(1, false, Recompute::none).saved_bytes ==
        testing::rel(sbh(1) * (34 + 5 * kA * kS / kH)).epsilon(1e-9));
  // Linear in the micro-batch: b = 4 is 4x b = 1.
  CHECK(layer_cost(8, false, Recompute::none, 4).saved_bytes ==
        testing::rel(4 * 578813952.0).epsilon(1e-9));
}

TEST_CASE("activation memory: TP + SP saves s b h (34/t + 5as/(ht))") {
  // t = 8: 34/8 + 10 = 14.25 -> 14.25 * 25,165,824 = 358,612,992 B.
  for (int64_t t : {2, 4, 8}) {
    CAPTURE(t);
    double expected = sbh(1) * (34.0 / t + 5 * kA * kS / (kH * t));
    CHECK(layer_cost(t, true, Recompute::none).saved_bytes ==
          testing::rel(expected).epsilon(1e-9));
  }
  CHECK(layer_cost(8, true, Recompute::none).saved_bytes ==
        testing::rel(358612992.0).epsilon(1e-9));
}

TEST_CASE("activation memory: selective recompute drops the 5as/h term") {
  // TP + selective: s b h (10 + 24/t); t = 8: 13 * 25,165,824 = 327,155,712 B.
  // TP + SP + selective: s b h * 34/t; t = 8: 4.25 * 25,165,824 = 106,954,752 B.
  for (int64_t t : {2, 4, 8}) {
    CAPTURE(t);
    CHECK(layer_cost(t, false, Recompute::selective).saved_bytes ==
          testing::rel(sbh(1) * (10 + 24.0 / t)).epsilon(1e-9));
    CHECK(layer_cost(t, true, Recompute::selective).saved_bytes ==
          testing::rel(sbh(1) * 34.0 / t).epsilon(1e-9));
  }
  CHECK(layer_cost(8, false, Recompute::selective).saved_bytes ==
        testing::rel(327155712.0).epsilon(1e-9));
  CHECK(layer_cost(8, true, Recompute::selective).saved_bytes ==
        testing::rel(106954752.0).epsilon(1e-9));
  // FORMULAS.md: with FlashAttention the scores are not stored either, as with selective recompute.
  CHECK(layer_cost(8, false, Recompute::none, 1, true).saved_bytes ==
        testing::rel(sbh(1) * (10 + 24.0 / 8)).epsilon(1e-9));
  CHECK(layer_cost(8, true, Recompute::none, 1, true).saved_bytes ==
        testing::rel(sbh(1) * 34.0 / 8).epsilon(1e-9));
}

TEST_CASE("activation memory: full recompute keeps only the 16-bit layer input, 2 s b h") {
  // Table 2: 2 s b h = 2 * 25,165,824 = 50,331,648 B whatever t (the input is replicated without
  // SP). With SP the stored input is the rank's sequence shard: 2 s b h / t (Megatron stores the
  // sequence-parallel input, Korthikanti §4.2.2).
  for (int64_t t : {1, 2, 8}) {
    CAPTURE(t);
    CHECK(layer_cost(t, false, Recompute::full).saved_bytes ==
          testing::rel(50331648.0).epsilon(1e-12));
  }
  CHECK(layer_cost(8, true, Recompute::full).saved_bytes ==
        testing::rel(50331648.0 / 8).epsilon(1e-12));
  // The transient working set while one layer is recomputed is that layer's full no-recompute
  // stash: s b h (10 + 24/t + 5as/(ht)) = 23 s b h at t = 8.
  CHECK(layer_cost(8, false, Recompute::full).transient_bytes ==
        testing::rel(578813952.0).epsilon(1e-9));
}

TEST_CASE("activation memory: the layer's parameters per GPU are 12h^2 + 13h split by TP") {
  // Narayanan §5.1 per layer: 12h^2 + 13h. qkv 3h^2+3h, attention out h^2+h, fc1 4h^2+4h,
  // fc2 4h^2+h, two layernorms 4h.
  CHECK(layer_cost(1, false, Recompute::none).dense_params ==
        testing::rel(12 * kH * kH + 13 * kH).epsilon(1e-12));
  // Megatron under TP t splits the four matrices and the column-parallel biases (3h + 4h) and
  // replicates the layernorms (4h) and the row-parallel biases (h + h). t = 8:
  //   (12h^2 + 7h)/8 + 6h = (1,811,939,328 + 86,016)/8 + 73,728 = 226,576,896.
  // The model divides the row-parallel biases by t too, i.e. (12h^2 + 9h)/8 + 4h = 226,555,392:
  // 2h(1 - 1/t) = 21,504 fewer (1e-4 relative), hence the tolerance.
  CHECK(layer_cost(8, false, Recompute::none).dense_params ==
        testing::rel(226576896.0).epsilon(1e-4));
}

TEST_CASE("activation memory: embedding and output layer with SP match FORMULAS.md's extra term") {
  // FORMULAS.md (Korthikanti §4.3): embedding, final norm and output layer add, over L layers,
  //   s b h L/t (p/L + delta(p=1) 4/L (1 + V/h)).
  // The p/L part is the embedding dropout mask, s b h / t bytes per micro-batch (1 byte, SP),
  // times the p micro-batches the first stage holds; t = 8: 25,165,824 / 8 = 3,145,728 B.
  const size_t head = graph().blocks.size() - 1;
  REQUIRE(graph().blocks[0].type == "embedding");
  REQUIRE(graph().blocks[head].type == "head");
  CHECK(cost_of(0, 8, true, Recompute::none).saved_bytes ==
        testing::rel(sbh(1) / 8).epsilon(1e-12));
  // The 4 (1 + V/h) s b h / t part (p = 1) is the head: final-norm input and output-layer input,
  // 2 + 2 bytes per element of s b h / t, and the fp32 logits kept for the cross-entropy backward,
  // 4 s b V / t. t = 8: 4 * 25,165,824 / 8 * (1 + 51200/12288) = 12,582,912 * 5.1667 = 65,011,712
  // B.
  CHECK(cost_of(head, 8, true, Recompute::none).saved_bytes ==
        testing::rel(4 * sbh(1) / 8 * (1 + 51200.0 / kH)).epsilon(1e-12));
  CHECK(cost_of(head, 8, true, Recompute::none).saved_bytes ==
        testing::rel(65011712.0).epsilon(1e-12));
}

TEST_CASE("cross-entropy time: Megatron's unfused fp32 passes over the vocab-parallel logits") {
  // The loss op alone at t = 1 on the A100 80GB profile: s x V fp32 logits = 2048 x 51200 x 4 =
  // 419,430,400 B; achievable bandwidth 2039 GB/s x 0.83 = 1,692.37 GB/s; 4 us per kernel.
  // Forward 9.5 units in 6 kernels: 9.5 x 419,430,400 / 1.69237e12 + 24 us = 2.3785 ms.
  // Backward 3.5 units in 2 kernels: 3.5 x 419,430,400 / 1.69237e12 + 8 us = 0.8754 ms.
  // (The passes are listed in block_cost.cpp: cast, max, subtract, exp, sum, divide; scale, cast.)
  const ClusterSpec cluster = load_cluster("dgx-a100");
  OpGraph g = graph();
  Block only_loss = g.blocks[g.blocks.size() - 1];
  only_loss.ops = {only_loss.ops.back()};
  REQUIRE(g.op(only_loss.ops[0]).kind == OpKind::loss);
  const BlockCost bc = price_block(g, only_loss, cluster.gpu, testing::single_gpu_context(cluster, g));
  CHECK(bc.fwd_s == testing::rel(2.3785e-3).epsilon(1e-4));
  CHECK(bc.bwd_input_s == testing::rel(0.8754e-3).epsilon(1e-4));
}
