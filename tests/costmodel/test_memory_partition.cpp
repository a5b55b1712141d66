// Pipeline cuts under per-stage memory limits: the partition DP with per-chunk limits against
// brute force, and the estimator's re-cut when Megatron's even split runs out of memory on the
// first 1F1B stage (which holds p micro-batches of activations, the last stage one).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/hardware.hpp"
#include "costmodel/estimate.hpp"
#include "costmodel/partition.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

namespace {
// Every cut of n blocks into `chunks` runs; chunk c's memory is fixed + scale[c] * scaled.
double brute_force(const std::vector<double>& cost, int64_t chunks, const ChunkMemoryLimits& l) {
  const int64_t n = static_cast<int64_t>(cost.size());
  double best = std::numeric_limits<double>::infinity();
  for (uint32_t mask = 0; mask < (1u << (n - 1)); ++mask) {
    if (__builtin_popcount(mask) != chunks - 1) continue;
    double worst = 0, run = 0, f = 0, a = 0;
    int64_t c = 0;
    bool ok = true;
    for (int64_t i = 0; i < n; ++i) {
      run += cost[i], f += l.fixed[i], a += l.scaled[i];
      if (i == n - 1 || (mask >> i) & 1u) {
        worst = std::max(worst, run);
        if (f + l.scale[c] * a > l.limit[c]) ok = false;
        run = f = a = 0;
        ++c;
      }
    }
    if (ok) best = std::min(best, worst);
  }
  return best;
}

// Checks a returned cut against brute force: empty exactly when nothing fits, else every chunk
// within its limit and the slowest chunk optimal. Returns whether a cut exists.
bool check_cut(const std::vector<double>& cost, int64_t chunks, const ChunkMemoryLimits& l,
               const std::vector<int64_t>& b) {
  const double best = brute_force(cost, chunks, l);
  if (best == std::numeric_limits<double>::infinity()) {
    CHECK(b.empty());
    return false;
  }
  REQUIRE(b.size() == size_t(chunks + 1));
  double worst = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    double t = 0, f = 0, a = 0;
    for (int64_t i = b[c]; i < b[c + 1]; ++i) t += cost[i], f += l.fixed[i], a += l.scaled[i];
    worst = std::max(worst, t);
    CHECK(f + l.scale[c] * a <= l.limit[c]);
  }
  CHECK(worst == best);
  return true;
}
}  // namespace

TEST_CASE("memory partition: per-chunk limits, optimal against brute force") {
  std::mt19937 rng(2718);
  int feasible = 0, infeasible = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t n = 2 + int64_t(rng() % 11), chunks = 1 + int64_t(rng() % n);
    std::vector<double> cost(n);
    ChunkMemoryLimits l;
    for (int64_t i = 0; i < n; ++i) {
      cost[i] = double(rng() % 100 + 1);
      l.fixed.push_back(double(rng() % 10));
      l.scaled.push_back(double(rng() % 10));
    }
    for (int64_t c = 0; c < chunks; ++c) {
      l.scale.push_back(double(chunks - c));  // 1F1B: stage c keeps p - c micro-batches
      l.limit.push_back(double(40 + rng() % 120));
    }
    CAPTURE(trial);
    if (check_cut(cost, chunks, l, min_max_partition(cost, chunks, &l))) ++feasible;
    else ++infeasible;
    // With one limit for every chunk (scales still falling with c, as 1F1B's) the O(n) feasibility
    // test is exact and the bisection over the greedy cut is optimal.
    ChunkMemoryLimits one = l;
    for (auto& x : one.limit) x = l.limit[0];
    const bool possible = check_cut(cost, chunks, one, min_max_partition(cost, chunks, &one));
    CHECK(memory_cut_possible(one, chunks) == possible);
  }
  CHECK(feasible > 0);
  CHECK(infeasible > 0);
  // Hand case: 4 equal blocks (cost 1, activations 1), 2 chunks, chunk 0 keeps 2 micro-batches
  // and chunk 1 one, limit 4 each. The even cut [2 | 2] needs 2*2 = 4 and 2: it fits. With a limit
  // of 3 chunk 0 can hold only one block (2*1 = 2 <= 3; 2*2 = 4 > 3): [1 | 3], chunk 1 needs 3.
  ChunkMemoryLimits h{{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 1}, {4, 4}};
  CHECK(min_max_partition({1, 1, 1, 1}, 2, &h) == std::vector<int64_t>{0, 2, 4});
  h.limit = {3, 3};
  CHECK(min_max_partition({1, 1, 1, 1}, 2, &h) == std::vector<int64_t>{0, 1, 4});
  h.limit = {3, 2};
  CHECK(min_max_partition({1, 1, 1, 1}, 2, &h).empty());
}

TEST_CASE("memory partition: the estimator re-cuts a 1F1B pipeline whose first stage overflows") {
  // A 48-layer GPT (h 6144) on 8 A100-80GB, tp 2, pp 4, 1F1B, no recompute: stage 0 keeps 4
  // micro-batches of activations, stage 3 one, so the even split overflows first on stage 0.
  ModelSpec m;
  m.name = "gpt-48l";
  m.layers = 48;
  m.hidden = 6144;
  m.heads = 48;
  m.kv_heads = 48;
  m.head_dim = 128;
  m.ffn_hidden = 4 * 6144;
  m.vocab = 51200;
  m.seq_len = 2048;
  m.tied_embeddings = true;
  const OpGraph g = build_transformer_graph(m);
  ClusterSpec cluster = load_cluster("dgx-a100");
  cluster.set_gpu_count(8);
  const double capacity = cluster.gpu.memory_bytes;
  Estimator est(g, cluster);
  int recut = 0;
  for (int64_t mbs : {1, 2, 3, 4, 6, 8}) {
    Strategy s;
    s.tp = 2, s.pp = 4, s.dp = 1, s.micro_batch = mbs, s.global_batch = 48, s.seq_len = 2048;
    s.schedule = Schedule::one_f_one_b, s.recompute = Recompute::none, s.sp = true;
    const int64_t nb = static_cast<int64_t>(g.blocks.size());
    const std::vector<int64_t> even = even_layer_partition(nb, 4);
    const Estimate at_even = est.estimate(s, even);
    const Estimate e = est.estimate(s);
    CAPTURE(mbs);
    REQUIRE(e.valid());
    if (at_even.fits) {
      CHECK(e.chunk_bounds == even);  // Megatron's split is kept while it fits
      continue;
    }
    if (!e.fits) continue;  // nothing fits at this micro-batch
    ++recut;
    CHECK(e.peak_memory_bytes <= capacity);
    CHECK(e.chunk_bounds != even);
    // Stage 0 (4 micro-batches in flight) takes fewer blocks than stage 3 (one).
    CHECK(e.chunk_bounds[1] - e.chunk_bounds[0] < e.chunk_bounds[4] - e.chunk_bounds[3]);
    // Unbalancing costs time: the even split would be faster if it fitted.
    CHECK(e.step_time_s >= at_even.step_time_s);
    // The simulator's input is the cut the estimate chose.
    CHECK(est.stage_costs(s).chunks.size() == 4);
  }
  CHECK(recut > 0);
  // A malformed cut is rejected, not estimated.
  Strategy s;
  s.tp = 2, s.pp = 4, s.dp = 1, s.micro_batch = 1, s.global_batch = 48, s.seq_len = 2048, s.sp = true;
  CHECK(est.estimate(s, {0, 10, 20, 50}).reason == Reason::layers_pp);
  CHECK(est.estimate(s, {0, 10, 10, 30, 50}).reason == Reason::layers_pp);
}
