// min_max_partition's binary search over the crossing point gives exactly the partition of the
// plain O(chunks * blocks^2) scan (same optimum, same tie-breaking towards earlier cuts), and
// handles a 10,000-block graph (issue 9: before, a 100,000-op graph hung `plan` in this loop).
#include <doctest/doctest.h>

#include <limits>
#include <random>
#include <vector>

#include "costmodel/partition.hpp"

using namespace shardplan;

namespace {
// The scan the binary search replaced, kept as the reference.
std::vector<int64_t> scan_partition(const std::vector<double>& cost, int64_t chunks, const std::vector<double>& mem,
                                    double mem_limit) {
  const int64_t n = static_cast<int64_t>(cost.size());
  if (chunks <= 0 || chunks > n) return {};
  std::vector<double> pc(n + 1, 0), pm(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) pc[i + 1] = pc[i] + cost[i], pm[i + 1] = pm[i] + (mem.empty() ? 0 : mem[i]);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(chunks + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<int64_t>> cut(chunks + 1, std::vector<int64_t>(n + 1, -1));
  best[0][0] = 0;
  for (int64_t c = 1; c <= chunks; ++c)
    for (int64_t i = c; i <= n - (chunks - c); ++i)
      for (int64_t j = c - 1; j < i; ++j) {
        if (best[c - 1][j] == inf) continue;
        if (mem_limit > 0 && pm[i] - pm[j] > mem_limit) continue;
        const double v = std::max(best[c - 1][j], pc[i] - pc[j]);
        if (v < best[c][i]) best[c][i] = v, cut[c][i] = j;
      }
  if (best[chunks][n] == inf) return {};
  std::vector<int64_t> bounds(chunks + 1);
  bounds[chunks] = n;
  for (int64_t c = chunks, i = n; c > 0; --c) bounds[c - 1] = i = cut[c][i];
  return bounds;
}
}  // namespace

TEST_CASE("partition: the binary search equals the scan, ties and memory limits included") {
  std::mt19937 rng(90210);
  for (int trial = 0; trial < 3000; ++trial) {
    const int64_t n = 1 + int64_t(rng() % 40);
    const int64_t chunks = 1 + int64_t(rng() % (n + 1));  // sometimes more chunks than blocks
    // Few distinct values (0 included) so that ties and flat stretches are common.
    const uint32_t spread = trial % 3 == 0 ? 3 : 50;
    std::vector<double> cost(n), mem;
    for (auto& x : cost) x = double(rng() % spread) * (trial % 5 == 0 ? 0.1 : 1.0);
    double limit = 0;
    if (trial % 2 == 1) {
      mem.resize(n);
      for (auto& x : mem) x = double(rng() % 20);
      limit = double(10 + rng() % 80);
    }
    CAPTURE(trial);
    CHECK(min_max_partition(cost, chunks, mem, limit) == scan_partition(cost, chunks, mem, limit));
  }
}

TEST_CASE("partition: 10,000 blocks in 64 chunks") {
  std::vector<double> cost(10'002, 1.0);
  cost.front() = 0.5;  // embedding and head differ, so the even split is not the only optimum
  cost.back() = 3.0;
  const std::vector<int64_t> b = min_max_partition(cost, 64);
  REQUIRE(b.size() == 65);
  CHECK(b.front() == 0);
  CHECK(b.back() == 10'002);
  double slowest = 0;
  for (size_t c = 0; c + 1 < b.size(); ++c) {
    double t = 0;
    for (int64_t i = b[c]; i < b[c + 1]; ++i) t += cost[i];
    slowest = std::max(slowest, t);
  }
  // 10,003.5 units over 64 chunks: at least ceil(156.3) whole blocks in the slowest one.
  CHECK(slowest <= 158.0);
}
