// Pipeline schedules as data: the published orders, pass counts, and in-flight limits.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "simulator/schedule.hpp"

using namespace shardplan;

namespace {

std::string render(const std::vector<Pass>& v) {
  std::string s;
  for (const Pass& p : v) {
    if (!s.empty()) s += ' ';
    s += pass_kind_name(p.kind) + std::to_string(p.micro_batch);
    if (p.chunk) s += "." + std::to_string(p.chunk);
  }
  return s;
}

// Most micro-batches with F done and B not yet done at any point of the stage's order.
int64_t max_in_flight(const std::vector<Pass>& v) {
  int64_t cur = 0, best = 0;
  for (const Pass& p : v) {
    cur += p.kind == Pass::F ? 1 : p.kind == Pass::B ? -1 : 0;
    best = std::max(best, cur);
  }
  return best;
}

}  // namespace

TEST_CASE("schedule: GPipe and 1F1B orders") {
  auto g = make_schedule(Schedule::gpipe, 2, 1, 3);
  CHECK(render(g[0]) == "F0 F1 F2 B0 B1 B2");
  // 1F1B, pp = 4: stage s warms up with pp - s - 1 forwards (Narayanan et al. SC'21, Fig. 4).
  auto o = make_schedule(Schedule::one_f_one_b, 4, 1, 6);
  CHECK(render(o[0]) == "F0 F1 F2 F3 B0 F4 B1 F5 B2 B3 B4 B5");
  CHECK(render(o[2]) == "F0 F1 B0 F2 B1 F3 B2 F4 B3 F5 B4 B5");
  CHECK(render(o[3]) == "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5");
  for (int64_t s = 0; s < 4; ++s) CHECK(max_in_flight(o[s]) == 4 - s);
  // Fewer micro-batches than stages: the warm-up is cut short.
  CHECK(render(make_schedule(Schedule::one_f_one_b, 4, 1, 2)[0]) == "F0 F1 B0 B1");
}

TEST_CASE("schedule: interleaved follows Megatron's order") {
  // pp = 2, vp = 2, m = 4. k-th forward: micro-batch (k / 4) * 2 + k % 2, chunk (k % 4) / 2.
  // Warm-up on stage 0: (2 - 0 - 1) * 2 + (2 - 1) * 2 = 4; on stage 1: 0 * 2 + 2 = 2.
  auto s = make_schedule(Schedule::interleaved, 2, 2, 4);
  CHECK(render(s[0]) == "F0 F1 F0.1 F1.1 F2 B0.1 F3 B1.1 F2.1 B0 F3.1 B1 B2.1 B3.1 B2 B3");
  CHECK(render(s[1]) == "F0 F1 F0.1 B0.1 F1.1 B1.1 F2 B0 F3 B1 F2.1 B2.1 F3.1 B3.1 B2 B3");
  // Each (micro-batch, chunk) runs F once and B once, F first.
  for (int64_t pp : {2, 4}) {
    for (int64_t vp : {2, 3}) {
      auto sch = make_schedule(Schedule::interleaved, pp, vp, 2 * pp);
      for (const auto& st : sch) {
        CHECK(st.size() == static_cast<size_t>(2 * 2 * pp * vp));
        for (size_t i = 0; i < st.size(); ++i)
          if (st[i].kind == Pass::B)
            CHECK(std::find(st.begin(), st.begin() + i,
                            Pass{Pass::F, st[i].micro_batch, st[i].chunk}) != st.begin() + i);
      }
    }
  }
}

TEST_CASE("schedule: ZB-H1 delays W passes and keeps 1F1B's F/B order") {
  // pp = 4, m = 8: stage s keeps s W passes pending (Qi et al. 2023, Fig. 3).
  auto z = make_schedule(Schedule::zero_bubble, 4, 1, 8);
  CHECK(render(z[0]) == "F0 F1 F2 F3 B0 W0 F4 B1 W1 F5 B2 W2 F6 B3 W3 F7 B4 W4 B5 W5 B6 W6 B7 W7");
  CHECK(render(z[3]) == "F0 B0 F1 B1 F2 B2 F3 B3 W0 F4 B4 W1 F5 B5 W2 F6 B6 W3 F7 B7 W4 W5 W6 W7");
  auto o = make_schedule(Schedule::one_f_one_b, 4, 1, 8);
  for (int64_t s = 0; s < 4; ++s) {
    std::vector<Pass> fb;
    for (const Pass& p : z[s])
      if (p.kind != Pass::W) fb.push_back(p);
    CHECK(fb == o[s]);
    CHECK(max_in_flight(z[s]) == 4 - s);
    CHECK(std::count_if(z[s].begin(), z[s].end(),
                        [](const Pass& p) { return p.kind == Pass::W; }) == 8);
  }
}

TEST_CASE("schedule: unschedulable combinations are errors, not crashes") {
  CHECK(schedule_error(Schedule::interleaved, 4, 2, 6).find("multiple of pp") != std::string::npos);
  CHECK(make_schedule(Schedule::interleaved, 4, 2, 6).empty());
  CHECK(!schedule_error(Schedule::one_f_one_b, 4, 2, 8).empty());
  CHECK(!schedule_error(Schedule::gpipe, 0, 1, 8).empty());
  CHECK(!schedule_error(Schedule::zero_bubble, 2, 1, 0).empty());
  CHECK(schedule_error(Schedule::interleaved, 4, 1, 6).empty());  // vp = 1 is plain 1F1B
  CHECK(make_schedule(Schedule::interleaved, 4, 1, 6) ==
        make_schedule(Schedule::one_f_one_b, 4, 1, 6));
}
