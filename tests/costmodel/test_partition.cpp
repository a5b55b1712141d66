// Contiguous min-max partition of pipeline blocks: optimal against brute force on small random
// cost vectors (fixed seed), the memory limit, and Megatron's even layer split.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "costmodel/partition.hpp"

using namespace shardplan;

namespace {
// The best slowest-chunk cost over every way to cut n blocks into `chunks` non-empty runs
// (C(n-1, chunks-1) cut sets), skipping any run whose memory exceeds the limit; +inf if none.
double brute_force(const std::vector<double>& cost, int64_t chunks, const std::vector<double>& mem,
                   double limit) {
  const int64_t n = static_cast<int64_t>(cost.size());
  double best = std::numeric_limits<double>::infinity();
  // Bit i set = a cut after block i (i in [0, n-2]).
  for (uint32_t mask = 0; mask < (1u << (n - 1)); ++mask) {
    if (__builtin_popcount(mask) != chunks - 1) continue;
    double worst = 0, run = 0, run_mem = 0;
    bool ok = true;
    for (int64_t i = 0; i < n; ++i) {
      run += cost[i];
      run_mem += mem.empty() ? 0 : mem[i];
      if (i == n - 1 || (mask >> i) & 1u) {
        worst = std::max(worst, run);
        if (limit > 0 && run_mem > limit) ok = false;
        run = run_mem = 0;
      }
    }
    if (ok) best = std::min(best, worst);
  }
  return best;
}

// Slowest chunk and memory checks of a returned partition.
double max_chunk(const std::vector<double>& cost, const std::vector<int64_t>& bounds) {
  double worst = 0;
  for (size_t c = 0; c + 1 < bounds.size(); ++c) {
    double s = 0;
    for (int64_t b = bounds[c]; b < bounds[c + 1]; ++b) s += cost[b];
    worst = std::max(worst, s);
  }
  return worst;
}

bool well_formed(const std::vector<int64_t>& bounds, int64_t n, int64_t chunks) {
  if (static_cast<int64_t>(bounds.size()) != chunks + 1 || bounds.front() != 0 ||
      bounds.back() != n)
    return false;
  for (size_t c = 0; c + 1 < bounds.size(); ++c)
    if (bounds[c + 1] <= bounds[c]) return false;
  return true;
}

// Integer costs 1..100 from mt19937's raw output (fixed seed; std distributions vary by library).
std::vector<double> random_vector(std::mt19937& rng, int64_t n) {
  std::vector<double> v(n);
  for (auto& x : v) x = double(rng() % 100 + 1);
  return v;
}
}  // namespace

TEST_CASE("partition: min_max_partition is optimal against brute force") {
  std::mt19937 rng(20240601);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 2 + int64_t(rng() % 11);  // 2..12 blocks
    const int64_t chunks = 1 + int64_t(rng() % n);
    std::vector<double> cost = random_vector(rng, n);
    CAPTURE(trial);
    std::vector<int64_t> bounds = min_max_partition(cost, chunks);
    REQUIRE(well_formed(bounds, n, chunks));
    CHECK(max_chunk(cost, bounds) == brute_force(cost, chunks, {}, 0));
  }
}

TEST_CASE("partition: hand case and tie-breaking") {
  // {5, 1, 1, 1, 5} in 3 chunks: [5] [1 1 1] [5] -> slowest 5, the only optimum.
  CHECK(min_max_partition({5, 1, 1, 1, 5}, 3) == std::vector<int64_t>{0, 1, 4, 5});
  // {1, 2, 3, 4} in 2: [1 2 3 | 4] slowest 6, [1 2 | 3 4] slowest 7 -> {0, 3, 4}.
  CHECK(min_max_partition({1, 2, 3, 4}, 2) == std::vector<int64_t>{0, 3, 4});
  // One chunk takes everything; as many chunks as blocks gives one each.
  CHECK(min_max_partition({1, 2, 3}, 1) == std::vector<int64_t>{0, 3});
  CHECK(min_max_partition({1, 2, 3}, 3) == std::vector<int64_t>{0, 1, 2, 3});
  // More chunks than blocks, or none: no partition.
  CHECK(min_max_partition({1, 2, 3}, 4).empty());
  CHECK(min_max_partition({1, 2, 3}, 0).empty());
}

TEST_CASE("partition: a memory limit is respected and stays optimal among feasible cuts") {
  std::mt19937 rng(7);
  int feasible = 0, infeasible = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 2 + int64_t(rng() % 11);
    const int64_t chunks = 1 + int64_t(rng() % n);
    std::vector<double> cost = random_vector(rng, n);
    std::vector<double> mem = random_vector(rng, n);
    // A limit between the largest single block and the total, so some cases are infeasible.
    const double limit = double(60 + rng() % 200);
    CAPTURE(trial);
    const double best = brute_force(cost, chunks, mem, limit);
    std::vector<int64_t> bounds = min_max_partition(cost, chunks, mem, limit);
    if (best == std::numeric_limits<double>::infinity()) {
      CHECK(bounds.empty());
      ++infeasible;
      continue;
    }
    ++feasible;
    REQUIRE(well_formed(bounds, n, chunks));
    CHECK(max_chunk(cost, bounds) == best);
    for (size_t c = 0; c + 1 < bounds.size(); ++c) {
      double m = 0;
      for (int64_t b = bounds[c]; b < bounds[c + 1]; ++b) m += mem[b];
      CHECK(m <= limit);
    }
  }
  // The generator exercised both outcomes.
  CHECK(feasible > 0);
  CHECK(infeasible > 0);
  // Hand case: costs {1, 1, 10}, memory {4, 4, 1}, limit 6, 2 chunks. Without the limit the best
  // is [1 1 | 10] (slowest 10) but its first run needs 8 > 6 of memory; [1 | 1 10] (11) fits.
  CHECK(min_max_partition({1, 1, 10}, 2) == std::vector<int64_t>{0, 2, 3});
  CHECK(min_max_partition({1, 1, 10}, 2, {4, 4, 1}, 6) == std::vector<int64_t>{0, 1, 3});
  // A block larger than the limit makes every partition infeasible.
  CHECK(min_max_partition({1, 1, 1}, 3, {1, 9, 1}, 6).empty());
}

TEST_CASE("partition: even_layer_partition puts the embedding first and the head last") {
  // 10 blocks = embedding + 8 layers + head, 4 chunks of 2 layers:
  //   [emb, l0, l1] [l2, l3] [l4, l5] [l6, l7, head] -> bounds {0, 3, 5, 7, 10}.
  CHECK(even_layer_partition(10, 4) == std::vector<int64_t>{0, 3, 5, 7, 10});
  // 98 blocks (GPT-3: 96 layers), 8 chunks of 12: {0, 13, 25, ..., 85, 98}.
  std::vector<int64_t> b = even_layer_partition(98, 8);
  REQUIRE(b.size() == 9);
  CHECK(b.front() == 0);
  CHECK(b[1] == 13);
  CHECK(b[7] == 85);
  CHECK(b.back() == 98);
  for (size_t c = 1; c + 1 < b.size() - 1; ++c) CHECK(b[c + 1] - b[c] == 12);
  // One chunk: everything.
  CHECK(even_layer_partition(6, 1) == std::vector<int64_t>{0, 6});
}
