// The in-process communicator: every collective against a hand computation, deterministic
// rank-order sums, point-to-point ordering, and failure behaviour (abort and timeouts instead
// of hangs). Also the rank layout's formula and groups.
#include <doctest/doctest.h>

#include <functional>
#include <thread>
#include <vector>

#include "executor/comm_inprocess.hpp"
#include "executor/layout.hpp"

using namespace shardplan::executor;

namespace {
// Runs fn(rank, comm) on `n` threads sharing one world group.
void on_ranks(int n, const std::function<void(int, Communicator&)>& fn,
              std::chrono::seconds timeout = std::chrono::seconds(60)) {
  InProcessWorld world(n, timeout);
  std::vector<int> members;
  for (int r = 0; r < n; ++r) members.push_back(r);
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      auto c = world.communicator(members, r);
      fn(r, *c);
    });
  for (auto& t : threads) t.join();
}
}  // namespace

TEST_CASE("collectives compute what NCCL's would") {
  const int n = 4;
  on_ranks(n, [&](int r, Communicator& c) {
    CHECK(c.rank() == r);
    CHECK(c.size() == n);
    // all_reduce: sum of (rank+1)*(i+1) = 10*(i+1); max = 4*(i+1). Odd length: uneven chunks.
    std::vector<float> x(7), y(7);
    for (int i = 0; i < 7; ++i) x[i] = y[i] = float((r + 1) * (i + 1));
    c.all_reduce(x.data(), 7);
    c.all_reduce(y.data(), 7, ReduceOp::max);
    for (int i = 0; i < 7; ++i) CHECK(x[i] == float(10 * (i + 1)));
    for (int i = 0; i < 7; ++i) CHECK(y[i] == float(4 * (i + 1)));
    // reduce_scatter: chunk r of the sum.
    std::vector<double> in(2 * n), out(2);
    for (int i = 0; i < 2 * n; ++i) in[i] = r * 100 + i;
    c.reduce_scatter(in.data(), out.data(), 2);
    CHECK(out[0] == 600 + 4 * (2 * r));
    CHECK(out[1] == 600 + 4 * (2 * r + 1));
    // all_gather, out of place and in place.
    std::vector<float> mine{float(r), float(-r)}, all(2 * n);
    c.all_gather(mine.data(), all.data(), 2);
    for (int q = 0; q < n; ++q) CHECK((all[2 * q] == float(q) && all[2 * q + 1] == float(-q)));
    std::vector<float> inplace(2 * n, -7.f);
    inplace[2 * r] = float(r), inplace[2 * r + 1] = float(-r);
    c.all_gather(inplace.data() + 2 * r, inplace.data(), 2);
    CHECK(inplace == all);
    // broadcast from rank 2.
    std::vector<float> b{float(r), float(r)};
    c.broadcast(b.data(), 2, 2);
    CHECK((b[0] == 2.f && b[1] == 2.f));
    // all_to_all: out[q] = in_q[r] = 10q + r.
    std::vector<float> a(n), t(n);
    for (int q = 0; q < n; ++q) a[q] = float(10 * r + q);
    c.all_to_all(a.data(), t.data(), 1);
    for (int q = 0; q < n; ++q) CHECK(t[q] == float(10 * q + r));
    c.barrier();
  });
}

TEST_CASE("all_reduce sums in rank order, so results are bit-identical on every rank") {
  // Rank-order float sum of {1e8, 1, -1e8, 1}: ((1e8 + 1) - 1e8) + 1 = 1 (1e8 + 1 rounds to
  // 1e8 in float32); any other order can give 0 or 2.
  const float vals[4] = {1e8f, 1.f, -1e8f, 1.f};
  float expect = vals[0];
  for (int r = 1; r < 4; ++r) expect += vals[r];
  for (int trial = 0; trial < 20; ++trial)
    on_ranks(4, [&](int r, Communicator& c) {
      std::vector<float> x(5, vals[r]);
      c.all_reduce(x.data(), 5);
      for (float v : x) CHECK(v == expect);
    });
}

TEST_CASE("send/recv deliver per (peer, tag) in send order; sizes are checked") {
  on_ranks(2, [&](int r, Communicator& c) {
    if (r == 0) {
      for (float v : {1.f, 2.f, 3.f}) c.send(&v, 1, 1, 5);
      float other = 9.f;
      c.send(&other, 1, 1, 6);
    } else {
      float v = 0;
      c.recv(&v, 1, 0, 6);  // a later tag first: messages are matched by tag
      CHECK(v == 9.f);
      for (float want : {1.f, 2.f, 3.f}) {
        c.recv(&v, 1, 0, 5);
        CHECK(v == want);
      }
    }
    c.barrier();
    if (r == 0) {
      double two[2] = {1, 2};
      c.send(two, 2, 1, 7);
    } else {
      double one = 0;
      CHECK_THROWS_WITH_AS(c.recv(&one, 1, 0, 7), doctest::Contains("expected 8"), std::runtime_error);
    }
  });
}

TEST_CASE("a failing rank aborts the others instead of hanging them") {
  InProcessWorld world(3);
  std::vector<std::string> outcome(3);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r)
    threads.emplace_back([&, r] {
      auto c = world.communicator({0, 1, 2}, r);
      try {
        if (r == 1) throw std::runtime_error("boom");
        c->barrier();
        outcome[r] = "passed";
      } catch (const CommAborted& e) {
        outcome[r] = std::string("aborted: ") + e.what();
      } catch (const std::exception& e) {
        outcome[r] = e.what();
        world.abort("rank 1 failed: boom");
      }
    });
  for (auto& t : threads) t.join();
  CHECK(outcome[0] == "aborted: rank 1 failed: boom");
  CHECK(outcome[1] == "boom");
  CHECK(outcome[2] == "aborted: rank 1 failed: boom");
}

TEST_CASE("an unmatched recv or collective times out with a message") {
  on_ranks(2, [&](int r, Communicator& c) {
    if (r == 1) {
      float v;
      CHECK_THROWS_WITH_AS(c.recv(&v, 1, 0, 3), doctest::Contains("deadlock"), std::runtime_error);
    } else {
      CHECK_THROWS_WITH_AS(c.barrier(), doctest::Contains("timed out"), std::runtime_error);
    }
  }, std::chrono::seconds(1));
}

TEST_CASE("rank layout: TP innermost, then DP, PP outermost (the plan file's order)") {
  const RankLayout l{2, 3, 4};  // dp, pp, tp
  CHECK(l.world_size() == 24);
  // rank = ((pp_idx * dp) + dp_idx) * tp + tp_idx (docs/plan-format.md)
  CHECK(l.rank_of({1, 2, 3}) == ((2 * 2) + 1) * 4 + 3);
  for (int r = 0; r < 24; ++r) CHECK(l.rank_of(l.coords(r)) == r);
  CHECK(l.tp_group(13) == std::vector<int>{12, 13, 14, 15});
  CHECK(l.coords(13) == RankCoords{1, 1, 1});  // dp 1, pp 1, tp 1
  CHECK(l.pp_group(17) == std::vector<int>{1, 9, 17});  // (dp 0, pp 0..2, tp 1)
  CHECK(l.dp_group(5) == std::vector<int>{1, 5});
  CHECK(l.embedding_group(17) == std::vector<int>{1, 17});  // first and last stage at (dp 0, tp 1)
  CHECK(RankLayout{2, 1, 2}.embedding_group(2) == std::vector<int>{2});
}
