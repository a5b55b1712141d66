// Pipeline assembly on synthetic stage times: the 1F1B / GPipe / interleaved / zero-bubble bubbles
// of Narayanan et al. 2021 §2.2 and Qi et al. 2023, and the micro-batches each stage keeps in
// flight.
#include <doctest/doctest.h>

#include <tuple>

#include "tests/approx.hpp"

#include <algorithm>

#include "core/hardware.hpp"
#include "costmodel/collectives.hpp"
#include "costmodel/estimate.hpp"
#include "costmodel/memory.hpp"
#include "costmodel/pipeline.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

namespace {
Strategy pipe(int64_t p, int64_t m, Schedule sched, int64_t v = 1) {
  Strategy s;
  s.pp = p;
  s.vp = v;
  s.global_batch = m;  // dp = 1, micro-batch 1 -> m micro-batches
  s.schedule = sched;
  return s;
}

// p identical stages (F, B, W per micro-batch, summed over the stage's chunks); no DP, no
// optimizer, free p2p: only the schedule shapes the step.
PipelineInputs uniform(const Strategy& s, double f, double b, double w) {
  PipelineInputs in;
  in.s = &s;
  ChunkTotals st;
  st.fwd_s = f;
  st.bwd_input_s = b;
  st.bwd_weight_s = w;
  in.stage.assign(s.pp, st);
  in.dp_comm_s.assign(s.pp, 0);
  in.dp_per_micro_batch_s.assign(s.pp, 0);
  in.optimizer_s.assign(s.pp, 0);
  return in;
}

// A 4-layer GPT (h 1024, 16 heads, vocab 51200, s 1024) for the tests that price real blocks.
OpGraph gpt_small_graph() {
  ModelSpec m;
  m.name = "gpt-small";
  m.layers = 4;
  m.hidden = 1024;
  m.heads = 16;
  m.kv_heads = 16;
  m.head_dim = 64;
  m.ffn_hidden = 4096;
  m.vocab = 51200;
  m.seq_len = 1024;
  m.tied_embeddings = true;
  return build_transformer_graph(m);
}
}  // namespace

TEST_CASE("pipeline: 1F1B and GPipe bubble is (p-1)/m of the ideal time") {
  // Narayanan §2.2: bubble / ideal = (p-1)/m; ideal = m * t_stage. t_stage = 1 + 1 + 1 = 3.
  // p = 4, m = 8: bubble = 3 * 3 = 9 s = (3/8) * (8 * 3); step = (m + p - 1) t = 33 s.
  for (Schedule sched : {Schedule::one_f_one_b, Schedule::gpipe}) {
    for (int64_t p : {2, 4, 8}) {
      for (int64_t m : {1, 8, 32}) {
        CAPTURE(p);
        CAPTURE(m);
        Strategy s = pipe(p, m, sched);
        PipelineResult r = pipeline_time(uniform(s, 1, 1, 1));
        CHECK(r.breakdown.pp_bubble_s / (m * 3.0) ==
              testing::rel(double(p - 1) / m).epsilon(1e-12));
        CHECK(r.step_s == testing::rel((m + p - 1) * 3.0).epsilon(1e-12));
        // As a fraction of the step: (p-1)/(m+p-1) (FORMULAS.md).
        CHECK(r.breakdown.pp_bubble_s / r.step_s ==
              testing::rel(double(p - 1) / (m + p - 1)).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("pipeline: the interleaved bubble is (p-1)/(v m)") {
  // Narayanan §2.2.2: with v chunks per rank the bubble shrinks by v. Stage totals summed over
  // its v chunks, t_stage = 3: p = 4, v = 2, m = 8 -> bubble 3 * 3 / 2 = 4.5 s = 3/16 of 24 s.
  for (int64_t v : {2, 3, 4}) {
    CAPTURE(v);
    const int64_t p = 4, m = 8;
    Strategy s = pipe(p, m, Schedule::interleaved, v);
    PipelineResult r = pipeline_time(uniform(s, 1, 1, 1));
    CHECK(r.breakdown.pp_bubble_s / (m * 3.0) ==
          testing::rel(double(p - 1) / double(v * m)).epsilon(1e-12));
  }
}

TEST_CASE("pipeline: the zero-bubble (ZB-H1) bubble with F = B = W is a third of 1F1B's") {
  // Qi et al. 2023: each non-critical stage idles F + B - W = 1 instead of F + B + W = 3:
  // p = 4: (p-1) * 1 = 3 s against (p-1) * 3 = 9 s.
  const int64_t p = 4, m = 8;
  Strategy zb = pipe(p, m, Schedule::zero_bubble), ofob = pipe(p, m, Schedule::one_f_one_b);
  PipelineResult rz = pipeline_time(uniform(zb, 1, 1, 1));
  PipelineResult r1 = pipeline_time(uniform(ofob, 1, 1, 1));
  CHECK(rz.breakdown.pp_bubble_s == testing::rel(3.0).epsilon(1e-12));
  CHECK(rz.breakdown.pp_bubble_s / r1.breakdown.pp_bubble_s ==
        testing::rel(1.0 / 3).epsilon(1e-12));
}

TEST_CASE("pipeline: ZB-H1 with fewer micro-batches than stages fills only m - 1 drain slots") {
  // F = B = W = 1 per stage (t = 3): the drain has p - 1 slots for deferred W passes, but a stage
  // has at most m - 1 of them. Step m t + (p-1)(F+B) - (m-1) W, as the simulator plays it:
  // p = 4: m = 1 -> 9, m = 2 -> 11; p = 8: m = 1 -> 17, m = 2 -> 19, m = 4 -> 23, m = 8 -> 31.
  for (auto [p, m, step] : {std::tuple{4, 1, 9.0}, std::tuple{4, 2, 11.0}, std::tuple{8, 1, 17.0},
                            std::tuple{8, 2, 19.0}, std::tuple{8, 4, 23.0}, std::tuple{8, 8, 31.0}}) {
    CAPTURE(p);
    CAPTURE(m);
    PipelineResult r = pipeline_time(uniform(pipe(p, m, Schedule::zero_bubble), 1, 1, 1));
    CHECK(r.breakdown.compute_s + r.breakdown.pp_bubble_s == testing::rel(step).epsilon(1e-12));
  }
}

TEST_CASE("pipeline: the slowest stage sets the steady state, p2p and the DP tail add on") {
  // p = 4, m = 8, stage times {3, 3, 6, 3} (stage 2 has twice the work):
  //   steady 8 * 6 = 48 s, bubble 3 + 3 + 3 = 9 s (sum - max), step 57 s.
  // p2p 1 ms per transfer: 2 * 1e-3 * (m v + p - 1) = 2e-3 * 11 = 0.022 s.
  // DP + optimizer tail: the stage with the largest dp_comm + optimizer, {0.5+0.1, 0.2+0.3, 0, 0}
  //   -> stage 0: dp_comm 0.5 s, optimizer 0.1 s, tail 0.6 s. Step = 57 + 0.022 + 0.6 = 57.622 s.
  Strategy s = pipe(4, 8, Schedule::one_f_one_b);
  PipelineInputs in = uniform(s, 1, 1, 1);
  in.stage[2].fwd_s = 2;
  in.stage[2].bwd_input_s = 2;
  in.stage[2].bwd_weight_s = 2;
  in.p2p_s = 1e-3;
  in.dp_comm_s = {0.5, 0.2, 0, 0};
  in.optimizer_s = {0.1, 0.3, 0, 0};
  PipelineResult r = pipeline_time(in);
  CHECK(r.breakdown.pp_bubble_s == testing::rel(9.0).epsilon(1e-12));
  CHECK(r.breakdown.compute_s == testing::rel(48.0).epsilon(1e-12));
  CHECK(r.breakdown.pp_comm_s == testing::rel(0.022).epsilon(1e-12));
  CHECK(r.breakdown.dp_comm_s == testing::rel(0.5).epsilon(1e-12));
  CHECK(r.breakdown.optimizer_s == testing::rel(0.1).epsilon(1e-12));
  CHECK(r.step_s == testing::rel(57.622).epsilon(1e-12));
}

TEST_CASE("pipeline: micro-batches in flight per stage under each schedule") {
  // 1F1B (Narayanan §2.2.1; Korthikanti eq. 5): stage i holds min(m, p - i).
  for (int64_t m : {2, 8}) {
    Strategy s = pipe(4, m, Schedule::one_f_one_b);
    for (int64_t i = 0; i < 4; ++i)
      CHECK(inflight_micro_batches(s, i) == double(std::min<int64_t>(m, 4 - i)));
  }
  // GPipe: all m forwards before any backward.
  Strategy g = pipe(4, 8, Schedule::gpipe);
  for (int64_t i = 0; i < 4; ++i) CHECK(inflight_micro_batches(g, i) == 8.0);
  // Interleaved (Megatron's warm-up count (p-i-1)*2 + (v-1)*p, plus the first steady forward,
  // counted in chunk passes, divided by v to be in units of the stage's full set of chunks):
  //   p = 4, v = 2, m = 8: stage 0 = (3*2 + 1*4 + 1)/2 = 11/2 = 5.5; stage 3 = (0 + 4 + 1)/2 = 2.5.
  Strategy il = pipe(4, 8, Schedule::interleaved, 2);
  CHECK(inflight_micro_batches(il, 0) == testing::rel(5.5));
  CHECK(inflight_micro_batches(il, 3) == testing::rel(2.5));
  // FORMULAS.md: stage 0 then holds 1 + (p-1)/(p v) = 1 + 3/8 = 1.375 times 1F1B's p = 4.
  CHECK(inflight_micro_batches(il, 0) / 4 == testing::rel(1 + 3.0 / 8).epsilon(1e-12));
  // Capped by m v passes: m = 4 -> min(8, 11)/2 = 4.
  Strategy il4 = pipe(4, 4, Schedule::interleaved, 2);
  CHECK(inflight_micro_batches(il4, 0) == testing::rel(4.0));
}

TEST_CASE("pipeline: interleaving holds each chunk's activations as often as Megatron's order does") {
  // p = 4, v = 2, m = 8. Forward order: chunk 0 mb 0-3, chunk 1 mb 0-3, chunk 0 mb 4-7, chunk 1
  // mb 4-7; backward order: chunk 1 first in each group. In flight (n0, n1) right after each
  // steady forward, with F forwards and B backwards done:
  //   stage 3 (chunk 0 saves 1, chunk 1 with the head 10): warm-up 4. (F, B) = (5, 0) -> (4, 1)
  //   = 14; (6, 1), (7, 2), (8, 3) -> (4, 1); (9, 4) -> (5, 0) = 5; ... peak 14, where the
  //   average over chunks would say 2.5 passes x (1 + 10) = 27.5.
  //   stage 0 (chunk 0 with the embedding saves 3, chunk 1 saves 1): warm-up 6 + 4 = 10.
  //   (11, 0) -> (7, 4) = 25; (12, 1), (13, 2), (14, 3), (15, 4) -> (8, 3) = 27; (16, 5) -> (7, 4)
  //   = 25: peak 27 (5.5 x 4 = 22 by the average).
  Strategy s = pipe(4, 8, Schedule::interleaved, 2);
  std::vector<ChunkTotals> chunks(8);
  for (ChunkTotals& c : chunks) c.saved_bytes = 1;
  chunks[0 * 4 + 0].saved_bytes = 3;  // stage 0, chunk 0 (with the embedding)
  chunks[1 * 4 + 3].saved_bytes = 10;  // stage 3, chunk 1 (with the head)
  CHECK(interleaved_peak_bytes(s, 3, chunks) == 14.0);
  CHECK(interleaved_peak_bytes(s, 0, chunks) == 27.0);
  // Equal chunks: the warm-up count times one chunk (5.5 x 2 = 11 on stage 1, 2.5 x 2 = 5 on 3).
  std::vector<ChunkTotals> even(8);
  for (ChunkTotals& c : even) c.saved_bytes = 1;
  CHECK(interleaved_peak_bytes(s, 1, even) == inflight_micro_batches(s, 1) * 2);
  CHECK(interleaved_peak_bytes(s, 3, even) == inflight_micro_batches(s, 3) * 2);
}

TEST_CASE("pipeline: the Estimator's bubble is the sum of its stage times minus the slowest") {
  // A 4-layer GPT on 4 GPUs, pp = 4, m = 8: Megatron's even split puts embedding + layer0 on
  // stage 0 and layer3 + head on stage 3, so stages differ; with zero 0 the 1F1B bubble is
  // sum_i t_i - max_i t_i, t_i = F + B + W + R of stage i per micro-batch (from stage_costs).
  OpGraph g = gpt_small_graph();
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(4);
  Estimator est(g, c);
  Strategy s;
  s.pp = 4;
  s.global_batch = 8;
  Estimate e = est.estimate(s);
  REQUIRE(e.valid());
  CHECK(e.chunk_bounds == std::vector<int64_t>{0, 2, 3, 4, 6});
  StageCosts sc = est.stage_costs(s);
  REQUIRE(sc.chunks.size() == 4);
  double sum = 0, mx = 0;
  for (const auto& stage : sc.chunks) {
    double t = stage[0].fwd_s + stage[0].bwd_input_s + stage[0].bwd_weight_s + stage[0].recompute_s;
    sum += t;
    mx = std::max(mx, t);
  }
  CHECK(e.breakdown.pp_bubble_s == testing::rel(sum - mx).epsilon(1e-9));
  // In-flight micro-batches reported per stage: min(8, 4 - i) = 4, 3, 2, 1.
  for (int64_t i = 0; i < 4; ++i) CHECK(e.stages[i].inflight_micro_batches == double(4 - i));
}

TEST_CASE("pipeline: stage_costs hands the simulator the whole DP reduce with its NIC part") {
  // gpt-small on dgx-a100 with dp = 4 x pp = 4 (tp 1): a DP group of 4 ranks 1 apart
  // stays inside a node of 8, so its reduce does not go through the NIC; the pipeline's stages 4
  // ranks apart (0, 4, 8, 12) leave the node between the second and third stage, so p2p does.
  // With pp = 4 x dp = 4 x tp = 8 the DP group (stride 8) and p2p (stride 32) both leave the node.
  OpGraph g = gpt_small_graph();
  for (int64_t tp : {1, 8}) {
    ClusterSpec c = load_cluster("dgx-a100");
    c.set_gpu_count(16 * tp);
    Estimator est(g, c);
    Strategy s;
    s.pp = 4, s.dp = 4, s.tp = tp, s.global_batch = 32, s.overlap_grad_reduce = true;
    StageCosts sc = est.stage_costs(s);
    REQUIRE(sc.dp_comm_s.size() == 4);
    INFO("tp=", tp);
    CHECK(sc.p2p_on_nic);
    CHECK(sc.nic.name == "ib");
    for (int64_t i = 0; i < 4; ++i) {
      // ZeRO 0: the whole all-reduce, not the part the analytic model leaves exposed.
      const double grads = (sc.chunks[i][0].grad_bytes);
      const GroupPlacement dp = place_group(c, 4, tp);
      CHECK(sc.dp_comm_s[i] == testing::rel(all_reduce_s(dp, grads)).epsilon(1e-9));
      CHECK(sc.dp_comm_nic_s[i] == testing::rel(all_reduce_time(dp, grads).nic_s).epsilon(1e-9));
      CHECK((sc.dp_comm_nic_s[i] > 0) == (tp == 8));
    }
  }
}

TEST_CASE("pipeline: stage_costs sends each TP rank's share between stages, as the estimate prices it") {
  // gpt-small, tp 8 x pp 4 on dgx-a100, micro-batch 1: a chunk's boundary activation is
  // s x h x 2 B = 1024 x 1024 x 2 = 2 MiB. Megatron's scatter/gather sends 1/8 of it per TP rank
  // (256 KiB) and, without SP, the receiving stage all-gathers the 2 MiB over NVLink; under SP the
  // activation is already sharded (256 KiB per rank) and nothing is re-gathered. The simulator's
  // transfer (latency + bytes / bandwidth) is then the estimate's p2p time.
  OpGraph g = gpt_small_graph();
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(32);
  Estimator est(g, c);
  for (bool sp : {false, true}) {
    INFO("sp=", sp);
    Strategy s;
    s.pp = 4, s.tp = 8, s.sp = sp, s.global_batch = 8;
    StageCosts sc = est.stage_costs(s);
    const double full = 1024.0 * 1024 * 2, share = full / 8;
    CHECK(sc.chunks[0][0].send_bytes == testing::rel(share).epsilon(1e-12));
    const double regather = sp ? 0 : all_gather_s(place_group(c, 8, 1), full);
    CHECK(sc.p2p.latency_s + sc.chunks[0][0].send_bytes / sc.p2p.bandwidth_Bps ==
          testing::rel(p2p_s(c, 8, 4, share) + regather).epsilon(1e-9));
  }
}

TEST_CASE("pipeline: the drain carries each later stage's contention to the stages before") {
  // 1F1B, p = 3, m = 4, every stage F = 1, B = 2 per micro-batch: m (F + B) = 12, bubble 2 x 3 =
  // 6. Each stage's reduction costs 0.5 once after its backward; stages 1 and 2 ran their last
  // backwards 0.25 and 0.125 s longer beside theirs. Stage 0 waits for both in the drain: its tail
  // is 0.375 + 0.5 = 0.875 (stage 1: 0.125 + 0.5, stage 2: 0.5). Step 12 + 6 + 0.875 = 18.875,
  // all 0.875 of the tail counted as exposed DP communication.
  const Strategy s = pipe(3, 4, Schedule::one_f_one_b);
  PipelineInputs in = uniform(s, 1, 2, 0);
  in.dp_comm_s = {0.5, 0.5, 0.5};
  in.drain_stretch_s = {0.0625, 0.25, 0.125};  // stage 0's own stretch delays no one
  const PipelineResult r = pipeline_time(in);
  CHECK(r.step_s == testing::rel(18.875));
  CHECK(r.breakdown.dp_comm_s == testing::rel(0.875));
}

TEST_CASE("pipeline: under interleaving the gradient reduction starts as each chunk finishes") {
  // Megatron-Core (align_grad_reduce, schedules.py): without interleaving stage 0 reduces its
  // buckets during its last backward, comm - bwd = 4 - 2 = 2. With vp chunks each chunk's
  // reduction is launched whole after its last backward: exposed = max(0, max_c [(c + 1) comm /
  // vp - c pp bwd / vp]). vp = 2, pp = 4: chunk 1 finishes 4 chunk-backwards (1 s each) before
  // chunk 0; c = 0 gives 2 (chunk 0's half, launched at the end), c = 1 gives 4 - 4 = 0: 2.
  CHECK(exposed_after_backward(4, 2, 1, 4) == 2.0);
  CHECK(exposed_after_backward(4, 2, 2, 4) == 2.0);
  CHECK(exposed_after_backward(1, 2, 2, 4) == 0.5);
  // A reduction far longer than the drain: all of it but the drain shows (c = 1: 40 - 4 = 36).
  CHECK(exposed_after_backward(40, 2, 2, 4) == 36.0);
}
