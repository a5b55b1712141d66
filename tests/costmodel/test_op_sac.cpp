// recompute=op, torchtitan's op-level selective activation checkpointing: what one layer keeps
// and what its backward re-runs, by hand from the policy (torchtitan's activation_checkpoint.py:
// save aten.mm outputs except every second one of the layer, the SDPA output and its log-sum-exp,
// the TP reduce-scatter and the EP all-to-all; recompute everything else).
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "costmodel_fixtures.hpp"

#include "core/hardware.hpp"
#include "costmodel/block_cost.hpp"
#include "core/error.hpp"
#include "core/strategy.hpp"
#include "costmodel/op_sac.hpp"
#include "graph/model_loader.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

namespace {
BlockCost first_layer(const OpGraph& g, int64_t tp, bool sp, Recompute r) {
  static const ClusterSpec cluster = load_cluster("dgx-a100");
  ShardContext c = testing::single_gpu_context(cluster, g);
  c.tp = tp;
  c.sp = sp;
  c.flash = true;
  c.recompute = r;
  c.tp_group = place_group(cluster, tp, 1);
  c.cp_group = place_group(cluster, 1, tp);
  size_t b = 0;
  while (g.blocks[b].type != "dense_layer") ++b;
  return price_block(g, g.blocks[b], cluster.gpu, c);
}

const OpGraph& gpt3_layer() {
  static const OpGraph g = build_transformer_graph(testing::gpt3_spec(2, "gpt3-layer"));
  return g;
}
}  // namespace

TEST_CASE("op SAC tally: odd matmul calls of a layer are kept, even ones re-run with their share") {
  OpSacTally t;
  // A fused qkv of widths {4, 1, 1} (total 6), 10 B per output column, 6 s and 60 FLOPs forward:
  // calls 1 (q) and 3 (v) kept: (4 + 1) * 10 = 50 B; call 2 (k) re-run: 1/6 of 6 s and 60 FLOPs,
  // plus the input's all-gather (0.5 s) since a part is re-run.
  t.linear({4, 1, 1}, 6, 10, 6, 60, 0.5);
  CHECK(t.mm_calls == 3);
  CHECK(t.saved_bytes == testing::rel(50));
  CHECK(t.recompute_s == testing::rel(1 + 0.5));
  CHECK(t.recompute_flops == testing::rel(10));
  // Call 4, one linear of width 3: re-run in full (2 s, 20 FLOPs, 0.25 s all-gather).
  t.linear({}, 3, 10, 2, 20, 0.25);
  CHECK(t.saved_bytes == testing::rel(50));
  CHECK(t.recompute_s == testing::rel(3.75));
  CHECK(t.recompute_flops == testing::rel(30));
  // Call 5: kept (3 * 10 B); nothing re-run, so its all-gather is not paid again.
  t.linear({}, 3, 10, 2, 20, 0.25);
  CHECK(t.saved_bytes == testing::rel(80));
  CHECK(t.recompute_s == testing::rel(3.75));
  t.saved(7);
  t.recomputed(0.25, 5);
  CHECK(t.saved_bytes == testing::rel(87));
  CHECK(t.recompute_s == testing::rel(4));
  CHECK(t.recompute_flops == testing::rel(35));
}

TEST_CASE("op SAC: Llama-3-8B keeps 63,616 B per token per layer at tp = 1 in bf16") {
  // h = 4096, 32 query heads and 8 KV heads of 128, SwiGLU 14336. Forward order of the mm calls:
  // wq (1, kept: 4096 * 2), wk (2), wv (3, kept: 1024 * 2), wo (4), w1 (5, kept: 14336 * 2),
  // w3 (6), w2 (7, kept: 4096 * 2). Plus the layer input (4096 * 2) and SDPA's output
  // (4096 * 2) with its fp32 log-sum-exp per head (32 * 4):
  //   8192 + 8192 + 2048 + 8192 + 128 + 28672 + 8192 = 63,616 B per token.
  const LoadedModel m = load_model(std::string(SHARDPLAN_SOURCE_DIR) + "/models/llama3-8b.json");
  const OpGraph& g = m.graph;
  const BlockCost op = first_layer(g, 1, false, Recompute::op);
  CHECK(op.saved_bytes == testing::rel(63616.0 * double(g.seq_len)).epsilon(1e-9));
  // Its recompute re-runs wk, wo and w3 (4096*1024 + 4096*4096 + 4096*14336 multiply-adds per
  // token, 2 FLOPs each): 2 * 79,691,776 = 159,383,552 FLOPs per token.
  const BlockCost none = first_layer(g, 1, false, Recompute::none);
  CHECK(op.hardware_flops - none.hardware_flops ==
        testing::rel(159383552.0 * double(g.seq_len)).epsilon(1e-9));
  // It keeps less than Megatron's selective (which keeps all but the attention core, 139 KB per
  // token here) and more than full (the input alone), and re-runs more than selective (the
  // attention core) and less than full (the whole forward).
  const BlockCost sel = first_layer(g, 1, false, Recompute::selective);
  const BlockCost full = first_layer(g, 1, false, Recompute::full);
  CHECK(op.saved_bytes < sel.saved_bytes);
  CHECK(op.saved_bytes > full.saved_bytes);
  CHECK(op.recompute_s > sel.recompute_s);
  CHECK(op.recompute_s < full.recompute_s);
  CHECK(op.transient_bytes == testing::rel(none.saved_bytes));
}

TEST_CASE("op SAC: GPT-3's layer under TP, with and without sequence parallelism") {
  // h = 12288, a = 96 (a/h = 1/128), s = 2048, bf16; in units of s h bytes. mm calls: q (1, kept),
  // k (2), v (3, kept), attention out (4), fc1 (5, kept, 4h), fc2 (6).
  const double sh = 2048.0 * 12288, lse = 4.0 / 128;  // fp32 LSE per head: 4 a / h per s h
  const OpGraph& g = gpt3_layer();
  // tp = 1: input 2 + q 2 + v 2 + attention 2 + LSE + fc1 8 = 16 + 1/32.
  CHECK(first_layer(g, 1, false, Recompute::op).saved_bytes ==
        testing::rel(sh * (16 + lse)).epsilon(1e-9));
  // tp = 8 without SP: the layer input is replicated (2), the column-parallel outputs are split
  // (q, v, attention, LSE, fc1: (2 + 2 + 2 + 8) / 8 + LSE / 8); the row-parallel outputs (calls 4
  // and 6) are re-run and their all-reduce is not saved.
  CHECK(first_layer(g, 8, false, Recompute::op).saved_bytes ==
        testing::rel(sh * (2 + 14.0 / 8 + lse / 8)).epsilon(1e-9));
  // tp = 8 with SP: the input is the sequence shard (2 / 8) and both reduce-scatter outputs are
  // kept (2 / 8 each): (2 + 2 + 2 + 2 + 8 + 2 + 2) / 8 + LSE / 8 = 2.5 + LSE / 8.
  CHECK(first_layer(g, 8, true, Recompute::op).saved_bytes ==
        testing::rel(sh * (20.0 / 8 + lse / 8)).epsilon(1e-9));
}

TEST_CASE("op SAC: the strategy string names it recompute=op; a bad name lists the four") {
  CHECK(parse_strategy_string("tp=2,recompute=op", Strategy{}).recompute == Recompute::op);
  CHECK(std::string(recompute_name(Recompute::op)) == "op");
  CHECK_THROWS_WITH_AS(parse_strategy_string("recompute=ops", Strategy{}),
                       "strategy: recompute=ops: expected none, selective, full or op", UsageError);
}
