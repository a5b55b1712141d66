// Estimator::check: each impossible strategy gets its reason code (infeasible is a value,
// STYLE.md 7), and estimate() returns that reason instead of numbers.
#include <doctest/doctest.h>

#include <string>

#include "core/hardware.hpp"
#include "costmodel/estimate.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

namespace {
// A small GPT: 4 layers, h = 768, `heads` heads, s = 128, V = 1000.
ModelSpec gpt(int64_t heads, int64_t seq = 128) {
  ModelSpec m;
  m.name = "gpt-check";
  m.layers = 4;
  m.hidden = 768;
  m.heads = heads;
  m.kv_heads = heads;
  m.head_dim = 768 / heads;
  m.ffn_hidden = 4 * 768;
  m.vocab = 1000;
  m.seq_len = seq;
  m.tied_embeddings = true;
  return m;
}

// 16 A100s: 2 nodes of 8 (NVLink domain 8).
ClusterSpec cluster16() {
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(16);
  return c;
}

Strategy base() {
  Strategy s;
  s.dp = 16;
  s.global_batch = 32;
  return s;
}

Reason check(const ModelSpec& m, const Strategy& s, std::string* detail = nullptr) {
  OpGraph g = build_transformer_graph(m);
  Estimator est(g, cluster16());
  return est.check(s, detail);
}
}  // namespace

TEST_CASE("check: a plain data-parallel strategy is ok") {
  CHECK(check(gpt(12), base()) == Reason::ok);
  Strategy s = base();
  s.dp = 2;
  s.tp = 8;
  s.sp = true;
  CHECK(check(gpt(16), s) == Reason::ok);
}

TEST_CASE("check: heads not divisible by tp") {
  // 12 heads, tp = 8 (dp = 2): 12 % 8 = 4.
  Strategy s = base();
  s.dp = 2;
  s.tp = 8;
  std::string why;
  CHECK(check(gpt(12), s, &why) == Reason::heads_tp);
  CHECK(why.find("12") != std::string::npos);
  // kv_heads too (GQA): 16 query heads, 2 kv heads, tp = 4.
  ModelSpec gqa = gpt(16);
  gqa.kv_heads = 2;
  s.dp = 4;
  s.tp = 4;
  CHECK(check(gqa, s) == Reason::heads_tp);
}

TEST_CASE("check: dp*tp*pp*cp must equal the GPU count") {
  Strategy s = base();
  s.dp = 4;  // 4 * 1 * 1 * 1 = 4 != 16
  CHECK(check(gpt(12), s) == Reason::gpu_count);
  s.dp = 0;
  CHECK(check(gpt(12), s) == Reason::gpu_count);
}

TEST_CASE("check: the global batch must divide into dp * micro_batch") {
  Strategy s = base();
  s.global_batch = 24;  // 24 % 16 = 8
  CHECK(check(gpt(12), s) == Reason::batch);
  s.global_batch = 32;
  s.micro_batch = 4;  // 32 % 64 != 0
  CHECK(check(gpt(12), s) == Reason::batch);
}

TEST_CASE("check: interleaving needs vp > 1, and vp > 1 needs interleaving") {
  Strategy s = base();
  s.dp = 8;
  s.pp = 2;
  s.schedule = Schedule::interleaved;  // vp = 1
  CHECK(check(gpt(12), s) == Reason::schedule);
  s.schedule = Schedule::one_f_one_b;
  s.vp = 2;  // vp without the interleaved schedule
  CHECK(check(gpt(12), s) == Reason::schedule);
  s.schedule = Schedule::interleaved;  // pp = 2, vp = 2: 4 chunks of 1 layer, m = 4 % 2 == 0
  CHECK(check(gpt(12), s) == Reason::ok);
}

TEST_CASE("check: more pipeline chunks than layers") {
  Strategy s = base();
  s.dp = 2;
  s.pp = 8;  // 8 chunks, 4 layers
  CHECK(check(gpt(12), s) == Reason::layers_pp);
}

TEST_CASE("check: expert parallelism on a dense model") {
  Strategy s = base();
  s.ep = 2;
  CHECK(check(gpt(12), s) == Reason::experts_ep);
}

TEST_CASE("check: sequence parallelism and TP overlap need their prerequisites") {
  Strategy s = base();
  s.sp = true;  // tp = 1
  CHECK(check(gpt(12), s) == Reason::options);
  Strategy o = base();
  o.dp = 8;
  o.tp = 2;
  o.tp_comm_overlap = true;  // without sp
  CHECK(check(gpt(12), o) == Reason::options);
}

TEST_CASE("check: tp larger than the NVLink domain") {
  // 16 heads divide tp = 16, but a node has 8 GPUs.
  Strategy s = base();
  s.dp = 1;
  s.tp = 16;
  s.global_batch = 4;
  CHECK(check(gpt(16), s) == Reason::tp_across_nodes);
  // Allowed when asked for.
  OpGraph g = build_transformer_graph(gpt(16));
  Estimator lax(g, cluster16(), EstimatorOptions{true});
  CHECK(lax.check(s) == Reason::ok);
}

TEST_CASE("check: tp that does not divide the NVLink domain puts a group across two nodes") {
  // tp = 4 divides 8 GPUs per node; tp = 6 (12 heads divide it) makes ranks 6-11 one group.
  Strategy s = base();
  s.dp = 4;
  s.tp = 4;
  CHECK(check(gpt(12), s) == Reason::ok);
  Strategy six = base();
  six.dp = 4;
  six.tp = 6;
  six.global_batch = 8;
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(24);
  const OpGraph g = build_transformer_graph(gpt(12));
  CHECK(Estimator(g, c).check(six) == Reason::tp_across_nodes);
  CHECK(Estimator(g, c, EstimatorOptions{true}).check(six) == Reason::ok);
}

TEST_CASE("check: context parallelism needs the sequence divisible by 2 cp") {
  // s = 132, cp = 4: 132 % 8 = 4.
  Strategy s = base();
  s.dp = 4;
  s.cp = 4;
  CHECK(check(gpt(12, 132), s) == Reason::seq_cp);
  CHECK(check(gpt(12, 128), s) == Reason::ok);
}

TEST_CASE("check: sequence parallelism needs each CP rank's tokens divisible by tp") {
  // Megatron scatters the sequence over the TP group (mappings.py asserts an even split):
  // s = 132, tp = 8 with SP: 132 % 8 = 4; s = 136 with cp = 2: 68 per CP rank, 68 % 8 = 4;
  // s = 144 with cp = 2: 72 per rank, 72 % 8 = 0. Without SP the sequence is not split.
  Strategy s = base();
  s.dp = 2, s.tp = 8, s.sp = true;
  std::string why;
  CHECK(check(gpt(16, 132), s, &why) == Reason::seq_cp);
  CHECK(why.find("not divisible by tp = 8") != std::string::npos);
  CHECK(check(gpt(16, 128), s) == Reason::ok);
  s.sp = false;
  CHECK(check(gpt(16, 132), s) == Reason::ok);
  Strategy c = base();
  c.dp = 1, c.tp = 8, c.cp = 2, c.sp = true;
  CHECK(check(gpt(16, 136), c) == Reason::seq_cp);
  CHECK(check(gpt(16, 144), c) == Reason::ok);
}

TEST_CASE("check: fp8 on an A100 has no math") {
  Strategy s = base();
  s.precision = DType::fp8;
  CHECK(check(gpt(12), s) == Reason::precision);
}

TEST_CASE("check: estimate() returns the reason and no numbers for an invalid strategy") {
  OpGraph g = build_transformer_graph(gpt(12));
  Estimator est(g, cluster16());
  Strategy s = base();
  s.global_batch = 24;
  Estimate e = est.estimate(s);
  CHECK(e.reason == Reason::batch);
  CHECK_FALSE(e.valid());
  CHECK(e.step_time_s == 0);
  CHECK_FALSE(e.detail.empty());
  CHECK(std::string(reason_name(Reason::heads_tp)) == "heads_tp");
}

TEST_CASE("check: the block-cost cache never changes an answer (STYLE.md 8, deterministic)") {
  // Estimate A, then B (different sharded shapes fill the cache), then A again, and A on a fresh
  // Estimator: bit-identical step time, memory and breakdown.
  OpGraph g = build_transformer_graph(gpt(16));
  Estimator est(g, cluster16());
  Strategy a = base();
  a.dp = 2;
  a.tp = 4;
  a.pp = 2;
  a.sp = true;
  a.recompute = Recompute::selective;
  Strategy b = base();
  b.dp = 4;
  b.tp = 2;
  b.pp = 2;
  b.micro_batch = 2;
  Estimate a1 = est.estimate(a);
  Estimate b1 = est.estimate(b);
  Estimate a2 = est.estimate(a);
  Estimator fresh(g, cluster16());
  Estimate a3 = fresh.estimate(a);
  REQUIRE(a1.valid());
  REQUIRE(b1.valid());
  CHECK(b1.step_time_s != a1.step_time_s);
  for (const Estimate* x : {&a2, &a3}) {
    CHECK(x->step_time_s == a1.step_time_s);
    CHECK(x->peak_memory_bytes == a1.peak_memory_bytes);
    CHECK(x->model_tflops_per_gpu == a1.model_tflops_per_gpu);
    CHECK(x->breakdown.pp_bubble_s == a1.breakdown.pp_bubble_s);
    CHECK(x->breakdown.tp_comm_s == a1.breakdown.tp_comm_s);
    CHECK(x->chunk_bounds == a1.chunk_bounds);
  }
}

TEST_CASE("check: a TP-split width (ffn_hidden) that tp does not divide") {
  // Megatron's column/row-parallel layers assert ffn_hidden % tp == 0: 3076 = 4 x 769.
  ModelSpec m = gpt(16);
  m.ffn_hidden = 3076;
  Strategy s = base();
  s.dp = 4, s.tp = 4;
  CHECK(check(m, s) == Reason::ok);
  s.dp = 2, s.tp = 8;
  std::string why;
  CHECK(check(m, s, &why) == Reason::heads_tp);
  CHECK(why.find("3076") != std::string::npos);
  CHECK(why.find("fc1") != std::string::npos);  // names the first layer it cannot split
  // The vocabulary is padded, not split exactly: a vocabulary of 1001 is no obstacle.
  ModelSpec v = gpt(16);
  v.vocab = 1001;
  CHECK(check(v, s) == Reason::ok);
}

TEST_CASE("check: expert groups are carved out of dp*cp*tp (Megatron-Core), not dp*tp") {
  ModelSpec m = gpt(16, 256);
  m.moe = MoeSpec{8, 2, 768, 0, 0};
  Strategy s = base();  // 16 GPUs as dp 1, tp 4, cp 4
  s.dp = 1, s.tp = 4, s.cp = 4, s.sp = true, s.ep = 8;
  s.global_batch = 4;
  // dp*tp = 4 is not a multiple of ep = 8, dp*cp*tp = 16 is.
  std::string why;
  CHECK(check(m, s, &why) == Reason::ok);
  s.ep = 16;  // 8 experts cannot spread over 16 ranks
  CHECK(check(m, s, &why) == Reason::experts_ep);
  s.ep = 8, s.cp = 2, s.dp = 2;  // dp*cp*tp = 16 again
  CHECK(check(m, s) == Reason::ok);
}
