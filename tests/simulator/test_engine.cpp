// SimEngine: stream order, dependencies, collectives, fair-share links, determinism.
// Times are exact (binary fractions), so they are compared with ==.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "simulator/engine.hpp"

using namespace shardplan;

TEST_CASE("engine: a stream runs its tasks one at a time in issue order") {
  SimEngine e;
  StreamId s = e.add_stream(), u = e.add_stream();
  TaskId a = e.add_task(s, 1.0), b = e.add_task(s, 2.0), c = e.add_task(u, 0.5);
  TaskId d = e.add_task(u, 0.25);
  e.add_dep(b, d);  // d waits for b although its stream is free at 0.5
  EngineRun r = e.run();
  REQUIRE(r.ok);
  CHECK(e.start_s(a) == 0.0);
  CHECK(e.start_s(b) == 1.0);
  CHECK(e.end_s(b) == 3.0);
  CHECK(e.end_s(c) == 0.5);
  CHECK(e.start_s(d) == 3.0);
  CHECK(r.events == 4);  // one end event per timed task
}

TEST_CASE("engine: a collective starts when every participant stream is free") {
  SimEngine e;
  StreamId s0 = e.add_stream(), s1 = e.add_stream();
  e.add_task(s0, 1.0);
  e.add_task(s1, 3.0);
  std::array<StreamId, 2> both{s0, s1};
  TaskId all = e.add_collective(both, 0.5);
  TaskId after = e.add_task(s0, 1.0);
  REQUIRE(e.run().ok);
  CHECK(e.start_s(all) == 3.0);  // s1 is busy until 3
  CHECK(e.start_s(after) == 3.5);
}

TEST_CASE("engine: two transfers sharing a link take the fair-share time") {
  SUBCASE("same start: each gets half") {
    // capacity 100 B/s, two flows of 100 B from t = 0: 50 B/s each, both done at 100/50 = 2 s.
    SimEngine e;
    LinkId l = e.add_link(100.0);
    TaskId a = e.add_transfer(e.add_stream(), e.add_stream(), l, 100.0, 0.0);
    TaskId b = e.add_transfer(e.add_stream(), e.add_stream(), l, 100.0, 0.0);
    REQUIRE(e.run().ok);
    CHECK(e.end_s(a) == 2.0);
    CHECK(e.end_s(b) == 2.0);
  }
  SUBCASE("staggered: rates recomputed when a flow joins and when one leaves") {
    // A: 100 B from t = 0; B: 25 B from t = 0.5 (after a 0.5 s task).
    // [0, 0.5): A alone at 100 B/s -> 50 B moved. [0.5, 1.0): 50 B/s each -> B's 25 B done at 1.0,
    // A at 75 B. [1.0, 1.25): A alone again at 100 B/s -> its last 25 B done at 1.25.
    SimEngine e;
    LinkId l = e.add_link(100.0);
    StreamId sb = e.add_stream();
    TaskId a = e.add_transfer(e.add_stream(), e.add_stream(), l, 100.0, 0.0);
    TaskId pre = e.add_task(sb, 0.5);
    TaskId b = e.add_transfer(sb, e.add_stream(), l, 25.0, 0.0);
    REQUIRE(e.run().ok);
    CHECK(e.end_s(pre) == 0.5);
    CHECK(e.end_s(b) == 1.0);
    CHECK(e.end_s(a) == 1.25);
  }
  SUBCASE("latency comes first, then the bytes") {
    // 0.25 s latency + 100 B at 100 B/s = 1.25 s; the other link is independent.
    SimEngine e;
    LinkId l = e.add_link(100.0), m = e.add_link(100.0);
    TaskId a = e.add_transfer(e.add_stream(), e.add_stream(), l, 100.0, 0.25);
    TaskId b = e.add_transfer(e.add_stream(), e.add_stream(), m, 100.0, 0.0);
    REQUIRE(e.run().ok);
    CHECK(e.end_s(a) == 1.25);
    CHECK(e.end_s(b) == 1.0);
  }
  SUBCASE("per-flow cap: a flow never exceeds its endpoint's bandwidth") {
    // capacity 200, cap 100: two flows of 100 B each get 100 B/s (1 s); three get 200/3 B/s (1.5
    // s).
    for (int flows : {2, 3}) {
      SimEngine e;
      LinkId l = e.add_link(200.0, 100.0);
      std::array<TaskId, 3> t{};
      for (int i = 0; i < flows; ++i)
        t[i] = e.add_transfer(e.add_stream(), e.add_stream(), l, 100.0, 0.0);
      REQUIRE(e.run().ok);
      CHECK(e.end_s(t[0]) == testing::rel(flows == 2 ? 1.0 : 1.5).epsilon(1e-12));
    }
  }
  SUBCASE("a flow on one stream (a rank's share of a collective) shares the link too") {
    // capacity 100 B/s. Transfer: 100 B from 0. Flow: 0.5 s latency, then 150 B.
    // [0, 0.5): transfer alone, 50 B. [0.5, 1.5): 50 B/s each: transfer done at 1.5, flow at
    // 50 B. [1.5, 2.5): flow alone, its last 100 B.
    SimEngine e;
    LinkId l = e.add_link(100.0);
    TaskId a = e.add_transfer(e.add_stream(), e.add_stream(), l, 100.0, 0.0);
    const StreamId one[] = {e.add_stream()};
    TaskId f = e.add_flow(one, l, 150.0, 0.5);
    REQUIRE(e.run().ok);
    CHECK(e.end_s(a) == 1.5);
    CHECK(e.start_s(f) == 0.0);
    CHECK(e.end_s(f) == 2.5);
    CHECK(e.task_streams(f).size() == 1);
  }
  SUBCASE("transfers on one stream pair are serialized by the streams, not the link") {
    SimEngine e;
    LinkId l = e.add_link(100.0);
    StreamId snd = e.add_stream(), rcv = e.add_stream();
    TaskId a = e.add_transfer(snd, rcv, l, 100.0, 0.0);
    TaskId b = e.add_transfer(snd, rcv, l, 100.0, 0.0);
    REQUIRE(e.run().ok);
    CHECK(e.end_s(a) == 1.0);
    CHECK(e.end_s(b) == 2.0);
  }
}

TEST_CASE("engine: a dependency cycle is reported, not a hang") {
  SimEngine e;
  StreamId s0 = e.add_stream(), s1 = e.add_stream();
  TaskId a = e.add_task(s0, 1.0);
  TaskId b = e.add_task(s1, 1.0);
  e.add_dep(a, b);
  e.add_dep(b, a);
  EngineRun r = e.run();
  CHECK_FALSE(r.ok);
  CHECK(r.stuck_task == a);
}

TEST_CASE("engine: equal-time events resolve the same way every run") {
  auto once = [] {
    SimEngine e;
    LinkId l = e.add_link(10.0);
    std::vector<double> ends;
    std::vector<TaskId> ids;
    for (int i = 0; i < 8; ++i) {
      StreamId s = e.add_stream();
      e.add_task(s, 1.0);
      ids.push_back(e.add_transfer(s, e.add_stream(), l, 10.0 * (i % 3 + 1), 0.0));
    }
    REQUIRE(e.run().ok);
    for (TaskId t : ids) ends.push_back(e.end_s(t));
    return ends;
  };
  CHECK(once() == once());
}

TEST_CASE("engine: a NaN or negative size or duration is refused, not left to run forever") {
  // A NaN flow never finished (NaN <= NaN is false) and the loop rescheduled it at the same
  // instant for ever.
  SimEngine e;
  const StreamId a = e.add_stream(), b = e.add_stream();
  const LinkId l = e.add_link(1e9);
  CHECK_THROWS_AS(e.add_transfer(a, b, l, std::nan(""), 0), std::invalid_argument);
  CHECK_THROWS_AS(e.add_transfer(a, b, l, -1, 0), std::invalid_argument);
  CHECK_THROWS_AS(e.add_task(a, std::numeric_limits<double>::infinity()), std::invalid_argument);
}
