// simulate(): the bubble each schedule's paper states, memory in flight, p2p, recompute, DP
// overlap, ZeRO-3 gathers, full vs symmetric. Costs are binary fractions, so times are exact.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "simulator/schedule.hpp"
#include "simulator/simulate.hpp"

using namespace shardplan;

namespace {

// pp stages of vp chunks, every chunk the same, no communication.
ChunkCost chunk(double f, double b_in, double b_w, double act) {
  ChunkCost k;
  k.fwd_s = f, k.bwd_input_s = b_in, k.bwd_weight_s = b_w, k.activation_bytes = act;
  return k;
}

StageCosts uniform(Schedule sched, int64_t pp, int64_t vp, int64_t m, double f, double b_in,
                   double b_w = 0) {
  StageCosts c;
  c.pp = pp, c.vp = vp, c.micro_batches = m, c.schedule = sched;
  c.chunks.assign(pp, std::vector<ChunkCost>(vp, chunk(f, b_in, b_w, 0)));
  return c;
}

}  // namespace

TEST_CASE("simulate: GPipe and 1F1B bubble is (p-1)/(m+p-1) of the step") {
  // Narayanan et al. SC'21 §2.2. p = 4, m = 8, F = 1, B = 2: step = (m + p - 1)(F + B) = 33,
  // busy = m(F + B) = 24, bubble fraction = 9/33 = (p-1)/(m+p-1) = 3/11.
  for (Schedule s : {Schedule::gpipe, Schedule::one_f_one_b}) {
    SimResult r = simulate(uniform(s, 4, 1, 8, 1.0, 2.0));
    REQUIRE(r.error.empty());
    CHECK(r.step_time_s == 33.0);
    CHECK(r.busy_s[0] == 24.0);
    CHECK(r.idle_fraction == 3.0 / 11.0);
    CHECK(r.critical_stage == 0);
    CHECK(r.bubble_s[0] == 9.0);
    // The last stage waits 3 units for its first F, then runs densely to 3 + 24 = 27: no idle
    // time between its first task and its last.
    CHECK(r.end_s[3] == 27.0);
    CHECK(r.bubble_s[3] == 0.0);
  }
}

TEST_CASE("simulate: interleaved bubble is (p-1)/(v*m) of the ideal time") {
  // p = 4, v = 2, m = 8; each chunk F = 0.5, B = 1 so a stage's work per micro-batch is still 3.
  // ideal = m * 3 = 24; bubble = (p-1)/(v m) * 24 = 3/16 * 24 = 4.5; step = 28.5.
  SimResult r = simulate(uniform(Schedule::interleaved, 4, 2, 8, 0.5, 1.0));
  REQUIRE(r.error.empty());
  CHECK(r.step_time_s == 28.5);
  CHECK(r.busy_s[r.critical_stage] == 24.0);
  CHECK((r.step_time_s - 24.0) / 24.0 == 3.0 / 16.0);
  CHECK(!simulate(uniform(Schedule::interleaved, 4, 2, 6, 0.5, 1.0)).error.empty());
}

TEST_CASE("simulate: ZB-H1 bubble is a third of 1F1B's when F = B = W") {
  // Qi et al. 2023 §3.1: ZB-H1 bubble (p-1)(F + B - W) vs 1F1B (p-1)(F + B + W).
  // p = 4, m = 8, F = B = W = 1: ZB-H1 step = 3m + (p-1) = 27 (bubble 3), 1F1B 3m + 3(p-1) = 33
  // (bubble 9): exactly a third.
  SimResult zb = simulate(uniform(Schedule::zero_bubble, 4, 1, 8, 1.0, 1.0, 1.0));
  SimResult ob = simulate(uniform(Schedule::one_f_one_b, 4, 1, 8, 1.0, 1.0, 1.0));
  REQUIRE(zb.error.empty());
  CHECK(zb.step_time_s == 27.0);
  CHECK(ob.step_time_s == 33.0);
  CHECK((zb.step_time_s - 24.0) * 3.0 == ob.step_time_s - 24.0);
  // With no weight-gradient part, B carries the whole backward and ZB-H1 is 1F1B.
  CHECK(simulate(uniform(Schedule::zero_bubble, 4, 1, 8, 1.0, 2.0)).step_time_s == 33.0);
}

TEST_CASE("simulate: activation memory in flight per stage") {
  StageCosts c = uniform(Schedule::one_f_one_b, 4, 1, 8, 1.0, 2.0);
  c.chunks.assign(4, {chunk(1.0, 2.0, 0, /*activation*/ 1e9)});
  c.static_bytes.assign(4, 5e9);
  // 1F1B: stage i holds p - i micro-batches (Narayanan SC'21; FORMULAS.md): 5e9 + (4 - i) * 1e9.
  SimResult r = simulate(c);
  REQUIRE(r.error.empty());
  for (int i = 0; i < 4; ++i) CHECK(r.peak_memory_bytes[i] == 5e9 + (4 - i) * 1e9);
  CHECK(r.peak_time_s[0] == 3.0);  // stage 0 allocates its 4th micro-batch at the start of F3
  // GPipe holds all m = 8.
  c.schedule = Schedule::gpipe;
  CHECK(simulate(c).peak_memory_bytes[3] == 5e9 + 8e9);
  // Interleaved, v = 2 (each chunk half the stage's activations, 0.5e9): stage 0 runs
  // (p-1)*2 + (v-1)*p = 10 warm-up chunk forwards, then one more before its first backward:
  // 11 * 0.5e9 = 5.5e9 = p * 1e9 * (1 + (p-1)/(p*v)), Megatron's interleaving penalty (FORMULAS.md).
  StageCosts il = uniform(Schedule::interleaved, 4, 2, 8, 0.5, 1.0);
  for (auto& st : il.chunks)
    for (auto& k : st) k.activation_bytes = 0.5e9;
  CHECK(simulate(il).peak_memory_bytes[0] == 4e9 * (1.0 + 3.0 / 8.0));
  // ZB-H1 with W = 1: activations are kept until W (it needs the layer inputs), so each stage
  // peaks at p = 4 micro-batches: 1F1B's stage-0 peak, which ZB-H1 matches (Qi et al.: p M_B).
  c.schedule = Schedule::zero_bubble;
  c.chunks.assign(4, {chunk(1.0, 1.0, 1.0, 1e9)});
  SimResult z = simulate(c);
  for (int i = 0; i < 4; ++i) CHECK(z.peak_memory_bytes[i] == 5e9 + 4e9);
}

TEST_CASE("simulate: p2p transfers and recompute") {
  // GPipe, p = 2, m = 1, F = 1, B = 2, 100 B at 100 B/s after 0.5 s latency = 1.5 s per hop:
  // F0 [0,1], send [1,2.5], F1 [2.5,3.5], B1 [3.5,5.5], send back [5.5,7], B0 [7,9].
  StageCosts c = uniform(Schedule::gpipe, 2, 1, 1, 1.0, 2.0);
  for (auto& st : c.chunks) st[0].send_bytes = 100.0;
  c.p2p = {100.0, 0.5, "ib"};
  CHECK(simulate(c).step_time_s == 9.0);
  // Recompute adds its time before every backward: p = 1, m = 4, 4 * (1 + 1 + 2) = 16.
  StageCosts rc = uniform(Schedule::one_f_one_b, 1, 1, 4, 1.0, 2.0);
  rc.chunks[0][0].recompute_s = 1.0;
  CHECK(simulate(rc).step_time_s == 16.0);
  CHECK(simulate(rc).busy_s[0] == 16.0);
}

TEST_CASE("simulate: a stage's send blocks its next compute, as Megatron's p2p does") {
  // 1F1B, p = 2, m = 2, F = 1, B = 2, 1.5 s per hop. Stage 0 runs F0 F1 B0 B1, stage 1 F0 B0 F1
  // B1; each compute waits for the send before it. Stage 0: F0 [0,1], a0 [1,2.5], F1 [2.5,3.5],
  // a1 [3.5,5]. Stage 1: F0 [2.5,3.5], B0 [3.5,5.5], g0 [5.5,7], F1 [7,8], B1 [8,10], g1
  // [10,11.5]. Stage 0: B0 [7,9], B1 [11.5,13.5]. Step 13.5 (12 if sends did not block: F1 on
  // stage 0 at [1,2], a1 [2.5,4], stage 1's F1 [5.5,6.5], B1 [6.5,8.5], g1 [8.5,10], B1 [10,12]).
  StageCosts c = uniform(Schedule::one_f_one_b, 2, 1, 2, 1.0, 2.0);
  for (auto& st : c.chunks) st[0].send_bytes = 100.0;
  c.p2p = {100.0, 0.5, "ib"};
  CHECK(simulate(c).step_time_s == 13.5);
}

TEST_CASE("simulate: a forward split into units waits for its activation before its first unit") {
  // ZeRO-3 gathers split each pass into units (one per block here). The receiving stage's first
  // unit needs the activation; adding a tiny gather must not let units run early and shorten
  // the step (it did when only the last unit waited for the transfer).
  StageCosts c = uniform(Schedule::one_f_one_b, 2, 1, 4, 1.0, 2.0);
  for (auto& st : c.chunks) st[0].blocks = 4, st[0].send_bytes = 64.0;
  c.p2p = {128.0, 0.25, "ib"};
  const double base = simulate(c).step_time_s;
  c.param_gather_s = {1e-6, 1e-6};
  const double gathered = simulate(c).step_time_s;
  CHECK(gathered >= base);
  CHECK(gathered < base + 1e-3);
}

TEST_CASE("simulate: DP reduction overlapped with the last backward is less exposed") {
  // p = 2, m = 4, 1F1B, F = 1, B = 2, optimizer 1 s, DP reduction 2 s per stage in 4 buckets.
  // Without overlap: all 2 s after the last backward (t = 15): exposed 2, step 15 + 2 + 1 = 18.
  // With overlap: the last backward [13,15] yields a bucket every 0.5 s; each takes 0.5 s, so the
  // last ends at 15.5: exposed 0.5, step 16.5.
  StageCosts c = uniform(Schedule::one_f_one_b, 2, 1, 4, 1.0, 2.0);
  c.dp_comm_s = {2.0, 2.0};
  c.optimizer_s = {1.0, 1.0};
  c.overlap_grad_reduce = false;
  SimResult off = simulate(c);
  c.overlap_grad_reduce = true;
  SimResult on = simulate(c);
  CHECK(off.exposed_dp_comm_s == 2.0);
  CHECK(off.step_time_s == 18.0);
  CHECK(on.exposed_dp_comm_s == 0.5);
  CHECK(on.step_time_s == 16.5);
  CHECK(on.exposed_dp_comm_s < off.exposed_dp_comm_s);
}

TEST_CASE("simulate: a reduction beside the last backward holds some of its SMs") {
  // As above (p = 2, m = 4, F = 1, B = 2, 2 s of reduction per stage, overlapped), with the
  // reduction's kernels holding k = 1/4 of the SMs. As Megatron-Core aligns the reductions
  // (align_grad_reduce), only stage 0 reduces beside its last backward, in 4 buckets: 2 + k
  // min(2, 2 / (1 - k)) = 2.5 s; stage 1 launches its whole reduction after its last backward.
  // Stage 1: B3 [11, 13], reduction [13, 15], optimizer [15, 16]. Stage 0: B3 [13, 15.5],
  // buckets ready every 0.625 s from 13.625, each 0.5 s on the wire, the last [15.5, 16];
  // optimizer [16, 17]. (With stage 1 reducing beside its B3 too, its gradient reached stage 0
  // half a second later: 17.5.)
  StageCosts c = uniform(Schedule::one_f_one_b, 2, 1, 4, 1.0, 2.0);
  c.dp_comm_s = {2.0, 2.0};
  c.optimizer_s = {1.0, 1.0};
  c.comm_sm_fraction = 0.25;
  SimResult on = simulate(c);
  CHECK(on.step_time_s == 17.0);
  CHECK(on.exposed_dp_comm_s == 0.5);
  // Without overlap nothing runs beside compute: the same 18 s as with no contention.
  c.overlap_grad_reduce = false;
  CHECK(simulate(c).step_time_s == 18.0);
}

TEST_CASE("simulate: a DP all-reduce and a PP send on one NIC share its bandwidth fairly") {
  // GPipe, p = 2, m = 1, F = 1, B = 2; p2p 100 B at 100 B/s, no latency; NIC 100 B/s. Stage 1's
  // DP all-reduce (one bucket, overlapped) takes 2 s alone: 0.5 s fixed, then 1.5 s on the NIC
  // (150 B). F0 [0,1], send act [1,2], F1 [2,3], B1 [3,5]; at t = 5 stage 1 sends the input
  // gradient and its bucket is ready.
  // Shared NIC: [5,5.5) the send alone at 100 B/s moves 50 B; the DP flow joins at 5.5, both at
  // 50 B/s: the send's last 50 B end at 6.5, the DP flow has 100 B left, alone at 100 B/s until
  // 7.5. B0 [6.5,8.5]: step 8.5; stage 1's reduction exposed 7.5 - 5 = 2.5 s (2 s alone).
  // In-node p2p (its own NVLink port): the send ends at 6, B0 [6,8], the reduction at 7.
  StageCosts c = uniform(Schedule::gpipe, 2, 1, 1, 1.0, 2.0);
  for (auto& st : c.chunks) st[0].send_bytes = 100.0, st[0].grad_bytes = 8.0;
  c.p2p = {100.0, 0.0, "ib"};
  c.nic = {100.0, 0.0, "ib"};
  c.dp_comm_s = {0.0, 2.0};
  c.dp_comm_nic_s = {0.0, 1.5};
  c.optimizer_s = {0.0, 0.0};
  SimOptions o;
  o.grad_buckets_per_chunk = 1;
  c.p2p_on_nic = true;
  SimResult shared = simulate(c, o);
  REQUIRE(shared.error.empty());
  CHECK(shared.step_time_s == 8.5);
  CHECK(shared.end_s[1] == 7.5);
  CHECK(shared.exposed_dp_comm_per_stage_s[1] == 2.5);
  // Full mode, dp = 2: each replica has its own NIC, so the same times.
  SimOptions f = o;
  f.full = true, f.dp = 2;
  SimResult full = simulate(c, f);
  REQUIRE(full.error.empty());
  CHECK(full.step_time_s == 8.5);
  CHECK(full.end_s[1] == 7.5);
  c.p2p_on_nic = false;
  SimResult apart = simulate(c, o);
  CHECK(apart.step_time_s == 8.0);
  CHECK(apart.end_s[1] == 7.0);
  CHECK(apart.exposed_dp_comm_per_stage_s[1] == 2.0);
  // A NIC part with no NIC to run on is an error, not a silent zero.
  c.nic = {};
  CHECK(!simulate(c, o).error.empty());
}

TEST_CASE("simulate: ZeRO-3 gathers are prefetched one pass ahead") {
  // p = 1, m = 2, F = 1, B = 2, gather 0.5 before each F and B. Only the first is exposed:
  // g0 [0,0.5] F0 [0.5,1.5] | g1 [0.5,1] B0 [1.5,3.5] | g2 [1.5,2] F1 [3.5,4.5] | g3 [3.5,4]
  // B1 [4.5,6.5]. Step 6.5 = 6 + 0.5.
  StageCosts c = uniform(Schedule::one_f_one_b, 1, 1, 2, 1.0, 2.0);
  c.param_gather_s = {0.5};
  CHECK(simulate(c).step_time_s == 6.5);
  // A gather slower than the passes it hides behind shows up: 4 gathers of 2 s in sequence with
  // two-buffer prefetch: g0 [0,2] F0 [2,3] g1 [2,4] B0 [4,6] g2 [4,6]... F1 [6,7] g3 [6,8] B1
  // [8,10].
  c.param_gather_s = {2.0};
  CHECK(simulate(c).step_time_s == 10.0);
  // Without overlap each gather waits for the pass before it: g0 [0,0.5] F0 [0.5,1.5] g1
  // [1.5,2] B0 [2,4] g2 [4,4.5] F1 [4.5,5.5] g3 [5.5,6] B1 [6,8]. Step 8 = 6 + 4 * 0.5.
  c.param_gather_s = {0.5};
  c.overlap_grad_reduce = false;
  CHECK(simulate(c).step_time_s == 8.0);
}

TEST_CASE("simulate: ZeRO-3 under interleaving gathers each chunk's share, not the stage's") {
  // p = 1, vp = 2, m = 1, F = 1, B = 2 per chunk, no overlap, the stage's per-pass gather 1.0
  // over two chunks of equal parameters: each of the 4 passes (F0 F1 B1 B0) gathers its chunk's
  // 0.5 after the pass before it. Step = 2 x (1 + 2) + 4 x 0.5 = 8 (charging the stage's 1.0 per
  // pass would give 10).
  StageCosts c = uniform(Schedule::interleaved, 1, 2, 1, 1.0, 2.0);
  for (auto& k : c.chunks[0]) k.param_gather_bytes = 4.0;
  c.param_gather_s = {1.0};
  c.overlap_grad_reduce = false;
  const SimResult r = simulate(c);
  REQUIRE(r.error.empty());
  CHECK(r.step_time_s == 8.0);
  // Unequal chunks share it by parameters: 3:1 gives 0.75 + 0.25 per pair of passes: 6 + 2 = 8.
  c.chunks[0][0].param_gather_bytes = 6.0, c.chunks[0][1].param_gather_bytes = 2.0;
  CHECK(simulate(c).step_time_s == 8.0);
}

TEST_CASE("simulate: full (dp replicas) and symmetric agree on a small case") {
  // dp = 3 replicas of 2 stages: DP reductions and ZeRO-3 gathers become collectives over the
  // replicas, and the replicas' p2p transfers share one link per stage pair and direction.
  for (auto [sched, vp] : {std::pair{Schedule::one_f_one_b, 1}, std::pair{Schedule::interleaved, 2},
                           std::pair{Schedule::zero_bubble, 1}}) {
    StageCosts c = uniform(sched, 2, vp, 4, 1.0, 1.0, 1.0);
    for (auto& st : c.chunks)
      for (auto& k : st) k.send_bytes = 64.0, k.activation_bytes = 1e9, k.grad_bytes = 8.0;
    c.p2p = {128.0, 0.25, "ib"};
    c.dp_comm_s = {2.0, 1.0};
    c.optimizer_s = {0.5, 0.5};
    c.param_gather_s = {0.25, 0.25};
    c.static_bytes = {3e9, 2e9};
    SimResult sym = simulate(c);
    SimOptions full;
    full.full = true;
    full.dp = 3;
    SimResult f = simulate(c, full);
    INFO(schedule_name(sched));
    REQUIRE(f.error.empty());
    CHECK(f.gpus == 6);
    CHECK(f.step_time_s == testing::rel(sym.step_time_s).epsilon(1e-12));
    CHECK(f.peak_memory_bytes == sym.peak_memory_bytes);
    CHECK(f.exposed_dp_comm_s == testing::rel(sym.exposed_dp_comm_s).epsilon(1e-12));
    CHECK(f.events > sym.events);
  }
}

TEST_CASE("simulate: every schedule runs for many shapes (no deadlock, no lost work)") {
  for (Schedule s :
       {Schedule::gpipe, Schedule::one_f_one_b, Schedule::interleaved, Schedule::zero_bubble})
    for (int64_t pp = 1; pp <= 5; ++pp)
      for (int64_t vp = 1; vp <= (s == Schedule::interleaved ? 3 : 1); ++vp)
        for (int64_t m : {1, 2, 3, 5, 8, 10}) {
          if (!schedule_error(s, pp, vp, m).empty()) continue;
          // B = W = 1: under ZB-H1 separate passes, elsewhere one backward of 2.
          StageCosts c = uniform(s, pp, vp, m, 1.0, 1.0, 1.0);
          for (auto& st : c.chunks)
            for (auto& k : st) k.send_bytes = 8.0;
          c.p2p = {64.0, 0.0, ""};
          SimResult r = simulate(c);
          INFO(schedule_name(s), " pp=", pp, " vp=", vp, " m=", m);
          REQUIRE(r.error.empty());
          for (double b : r.busy_s) CHECK(b == 3.0 * vp * m);
          CHECK(r.step_time_s >= 3.0 * vp * m);
        }
}

TEST_CASE("simulate: bad input is an error value") {
  StageCosts c = uniform(Schedule::one_f_one_b, 2, 1, 4, 1.0, 2.0);
  c.chunks.pop_back();
  CHECK(simulate(c).error.find("chunks") != std::string::npos);
  c = uniform(Schedule::one_f_one_b, 2, 1, 4, -1.0, 2.0);
  CHECK(!simulate(c).error.empty());
  c = uniform(Schedule::one_f_one_b, 2, 1, 4, 1.0, 2.0);
  c.optimizer_s = {1.0};
  CHECK(simulate(c).error.find("optimizer_s") != std::string::npos);
  c = uniform(Schedule::one_f_one_b, 2, 1, 4, 1.0, 2.0);
  c.chunks[0][0].send_bytes = 1.0;  // bytes to send but no bandwidth
  CHECK(!simulate(c).error.empty());
}

TEST_CASE("simulate: ZeRO-3 under PP gathers before backward passes only") {
  // gather_before_forward off (ZeRO-3 under pipeline parallelism, parameters kept after backward):
  // p = 1, m = 2, F = 1, B = 2, gather 0.5 before each B only, no overlap: F0 [0,1] g [1,1.5]
  // B0 [1.5,3.5] F1 [3.5,4.5] g [4.5,5] B1 [5,7]. Step 7 = 6 + 2 x 0.5 (8 with the F gathers).
  StageCosts c = uniform(Schedule::one_f_one_b, 1, 1, 2, 1.0, 2.0);
  c.param_gather_s = {0.5};
  c.overlap_grad_reduce = false;
  c.gather_before_forward = false;
  CHECK(simulate(c).step_time_s == 7.0);
  c.gather_before_forward = true;
  CHECK(simulate(c).step_time_s == 8.0);
}

TEST_CASE("simulate: ZeRO-3 gathers a unit ahead, so a pass hides all but the first unit's gather") {
  // p = 1, m = 1, F = 1, B = 2, a chunk of 2 blocks (2 units), the stage's gather 0.5 per pass
  // (0.25 per unit), overlapped. g0 [0,0.25] Fa [0.25,0.75]; g1 may start at once (no unit two
  // before it): [0.25,0.5]; Fb [0.75,1.25]; g2 after Fa: [0.75,1]; Ba [1.25,2.25]; g3 after Fb:
  // [1.25,1.5]; Bb [2.25,3.25]. Step 3.25 = 3 + 0.25 (a whole-pass gather would leave 0.5).
  StageCosts c = uniform(Schedule::one_f_one_b, 1, 1, 1, 1.0, 2.0);
  c.chunks[0][0].blocks = 2;
  c.param_gather_s = {0.5};
  CHECK(simulate(c).step_time_s == 3.25);
  // More units than max_units_per_pass are grouped: at most 1 unit per pass is the whole-pass
  // gather again.
  SimOptions one;
  one.max_units_per_pass = 1;
  CHECK(simulate(c, one).step_time_s == 3.5);
  // ZeRO-3 also reduce-scatters each micro-batch's gradients unit by unit after the unit's
  // backward, 1.0 per micro-batch: r_a [2.25,2.75] beside Bb, r_b [3.25,3.75] after it; the
  // optimizer waits for it. Step 3.75, the last reduction's 0.5 exposed.
  c.grad_reduce_per_mb_s = {1.0};
  const SimResult r = simulate(c);
  REQUIRE(r.error.empty());
  CHECK(r.step_time_s == 3.75);
  CHECK(r.exposed_dp_comm_s == 0.5);
}

TEST_CASE("simulate: ZeRO-2 reduce-scatters every micro-batch's gradients after its backward") {
  // p = 1, m = 2, F = 1, B = 2 over 2 units, reduce 1.0 per micro-batch (0.5 per unit), nothing
  // gathered. Overlapped: F0 [0,1] B0a [1,2] r [2,2.5] B0b [2,3] r [3,3.5]; the backward's end
  // waits for its reductions (DeepSpeed synchronizes there, FSDP2's finalize_backward waits), so
  // F1 [3.5,4.5] B1a [4.5,5.5] r [5.5,6] B1b [5.5,6.5] r [6.5,7]: step 7, each micro-batch's last
  // unit's reduction exposed (the step's last 0.5 after the last pass).
  StageCosts c = uniform(Schedule::one_f_one_b, 1, 1, 2, 1.0, 2.0);
  c.chunks[0][0].blocks = 2;
  c.grad_reduce_per_mb_s = {1.0};
  SimResult r = simulate(c);
  REQUIRE(r.error.empty());
  CHECK(r.step_time_s == 7.0);
  CHECK(r.exposed_dp_comm_s == 0.5);
  // Without overlap the compute waits for each reduction: 6 + 4 x 0.5 = 8, as the analytic model
  // charges it (the whole reduce-scatter per micro-batch).
  c.overlap_grad_reduce = false;
  CHECK(simulate(c).step_time_s == 8.0);
  // Its NIC part needs a NIC.
  c.grad_reduce_per_mb_nic_s = {0.5};
  CHECK(simulate(c).error.find("NIC") != std::string::npos);
  // Bad values are errors.
  c = uniform(Schedule::one_f_one_b, 1, 1, 2, 1.0, 2.0);
  c.grad_reduce_per_mb_s = {-1.0};
  CHECK(simulate(c).error.find("grad_reduce_per_mb_s") != std::string::npos);
  c.grad_reduce_per_mb_s = {1.0};
  c.chunks[0][0].blocks = 0;
  CHECK(simulate(c).error.find("blocks") != std::string::npos);
}

TEST_CASE("simulate: ZeRO-3 under PP gathers a backward's units one unit ahead") {
  // Gathers before B only (ZeRO-3 under PP), FSDP's two unit buffers: a unit's gather may start
  // once the unit two before it has run. p = 1, m = 2, F = 3, B = 1.5 over 3 units (0.5 each),
  // gather 3.0 per B (1.0 per unit): g0 [0,1] g1 [1,2] during F0 [0,3]; B0a [3,3.5] B0b
  // [3.5,4]; g2 waits for B0a: [3.5,4.5], B0c [4.5,5]; g3 (after B0b) [4.5,5.5] and g4 (after
  // B0c) [5.5,6.5] during F1 [5,8]; B1a [8,8.5] B1b [8.5,9]; g5 waits for B1a: [8.5,9.5], B1c
  // [9.5,10]. Step 10: each backward's third unit waits 0.5 for its gather.
  StageCosts c = uniform(Schedule::one_f_one_b, 1, 1, 2, 3.0, 1.5);
  c.chunks[0][0].blocks = 3;
  c.param_gather_s = {3.0};
  c.gather_before_forward = false;
  CHECK(simulate(c).step_time_s == 10.0);
}

TEST_CASE("simulate: ZeRO-1/2's gather of the updated parameters follows the optimizer") {
  // p = 1, m = 1, F = 1, B = 2, optimizer 0.25, the exposed part of the parameter all-gather
  // 0.5: F [0,1] B [1,3] optimizer [3,3.25] gather [3.25,3.75]. The step ends when the
  // parameters are whole again: 3.75, the gather's 0.5 exposed. (Placed before the optimizer as
  // part of the reduction, it hid behind the backward on stage 0.)
  StageCosts c = uniform(Schedule::one_f_one_b, 1, 1, 1, 1.0, 2.0);
  c.optimizer_s = {0.25};
  c.param_gather_after_s = {0.5};
  const SimResult r = simulate(c);
  REQUIRE(r.error.empty());
  CHECK(r.step_time_s == 3.75);
  CHECK(r.exposed_dp_comm_s == 0.5);
  c.param_gather_after_nic_s = {0.75};  // more NIC time than the whole: refused
  CHECK(!simulate(c).error.empty());
}
