// Pipeline schedules: every pass exactly once, orders that interlock without deadlock, and the
// activation memory (micro-batches in flight) each schedule is known for.
#include <doctest/doctest.h>

#include <map>

#include "executor/schedule.hpp"

using namespace shardplan;
using namespace shardplan::executor;

TEST_CASE("every schedule runs each pass once and never deadlocks") {
  struct Case { Schedule s; int pp, vp, m; };
  std::vector<Case> cases;
  for (int pp : {1, 2, 3, 4, 8})
    for (int m : {1, 2, 3, 4, 8, 16}) {
      cases.push_back({Schedule::gpipe, pp, 1, m});
      cases.push_back({Schedule::one_f_one_b, pp, 1, m});
      cases.push_back({Schedule::zero_bubble, pp, 1, m});
      for (int vp : {2, 3})
        if (m % pp == 0 && pp > 1) cases.push_back({Schedule::interleaved, pp, vp, m});
    }
  for (const Case& c : cases) {
    INFO(schedule_name(c.s) << " pp=" << c.pp << " vp=" << c.vp << " m=" << c.m);
    REQUIRE(schedule_problem(c.s, c.pp, c.vp, c.m).empty());
    for (int r = 0; r < c.pp; ++r) {
      std::map<std::tuple<int, int, int>, int> seen;
      for (const PipelinePass& p : pipeline_order(c.s, c.pp, c.vp, r, c.m)) ++seen[{int(p.kind), p.micro_batch, p.chunk}];
      const int kinds = splits_weight_grads(c.s) ? 3 : 2;
      CHECK(seen.size() == size_t(kinds * c.m * c.vp));
      for (auto& [k, count] : seen) CHECK(count == 1);
    }
    CHECK(simulate_schedule(c.s, c.pp, c.vp, c.m).completes);
  }
}

TEST_CASE("micro-batches in flight: GPipe all, 1F1B pp - rank, ZB-H1 pp") {
  // PipeDream-Flush (Narayanan et al. 2021, §2.2): stage r stashes at most pp - r micro-batches.
  const int pp = 4, m = 8;
  auto gpipe = simulate_schedule(Schedule::gpipe, pp, 1, m).peak_in_flight;
  auto ofob = simulate_schedule(Schedule::one_f_one_b, pp, 1, m).peak_in_flight;
  auto zb = simulate_schedule(Schedule::zero_bubble, pp, 1, m).peak_in_flight;
  for (int r = 0; r < pp; ++r) {
    CHECK(gpipe[r] == m);
    CHECK(ofob[r] == pp - r);
    // ZB-H1 (Qi et al. 2023 §2.1): stage r keeps r W passes pending behind its pp - r
    // micro-batches of 1F1B, so every stage holds pp micro-batches from F to W.
    CHECK(zb[r] == pp);
  }
  // Interleaved (Megatron): rank 0 warms up (pp-1)*2 + (vp-1)*pp chunk passes, plus one.
  auto il = simulate_schedule(Schedule::interleaved, pp, 2, m).peak_in_flight;
  CHECK(il[0] == (pp - 1) * 2 + (2 - 1) * pp + 1);
}

TEST_CASE("1F1B order on the first of two stages") {
  const auto o = pipeline_order(Schedule::one_f_one_b, 2, 1, 0, 3);
  const std::vector<PipelinePass> want = {{PassKind::forward, 0, 0}, {PassKind::forward, 1, 0},
                                          {PassKind::backward, 0, 0}, {PassKind::forward, 2, 0},
                                          {PassKind::backward, 1, 0}, {PassKind::backward, 2, 0}};
  CHECK(o == want);
}

TEST_CASE("schedules that cannot run say why") {
  CHECK(schedule_problem(Schedule::one_f_one_b, 2, 2, 4).find("interleaved") != std::string::npos);
  CHECK(schedule_problem(Schedule::interleaved, 4, 2, 6).find("divisible by pp") != std::string::npos);
  // Interleaving needs virtual stages on a pipeline, as the estimate checks (it ran with vp = 1).
  CHECK(schedule_problem(Schedule::interleaved, 2, 1, 4) == "the interleaved schedule needs pp > 1 and vp > 1");
  CHECK(schedule_problem(Schedule::interleaved, 1, 2, 4) == "the interleaved schedule needs pp > 1 and vp > 1");
}

TEST_CASE("stage partition is contiguous and as even as possible") {
  int64_t a = 0, b = 0;
  std::vector<int64_t> sizes;
  int64_t next = 0;
  for (int v = 0; v < 4; ++v) {
    stage_layers({}, 10, 4, v, a, b);
    CHECK(a == next);
    next = b;
    sizes.push_back(b - a);
  }
  CHECK(next == 10);
  CHECK(sizes == std::vector<int64_t>{3, 3, 2, 2});
}
