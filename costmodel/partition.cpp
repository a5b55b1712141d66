// Min-max contiguous partition: dp[c][i] = best slowest-chunk time for the first i blocks in c
// chunks, ties broken towards earlier cuts. With non-negative costs dp[c-1][j] rises with j and
// the last chunk's cost pc[i] - pc[j] falls, so the best cut j sits where the two cross: found by
// binary search, O(chunks * blocks * log blocks) (a 10,000-block graph in 64 chunks: ~10 ms,
// where scanning every j took minutes). Negative inputs fall back to the scan.
#include "costmodel/partition.hpp"

#include <algorithm>
#include <limits>

namespace shardplan {

namespace {
// The first j in [lo, hi] with pred(j), or hi + 1; pred is false then true over the range.
template <class Pred>
int64_t first_true(int64_t lo, int64_t hi, Pred pred) {
  while (lo <= hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (pred(mid)) hi = mid - 1;
    else lo = mid + 1;
  }
  return lo;
}
}  // namespace

namespace {
// Each chunk's limits at least as loose as the one before it (scale non-increasing, limit
// non-decreasing: a 1F1B pipeline's stages), with non-negative inputs.
bool looser_later(const ChunkMemoryLimits& l, int64_t chunks) {
  for (int64_t c = 1; c < chunks; ++c)
    if (l.scale[c] > l.scale[c - 1] || l.limit[c] < l.limit[c - 1]) return false;
  for (size_t i = 0; i < l.fixed.size(); ++i)
    if (l.fixed[i] < 0 || l.scaled[i] < 0) return false;
  return true;
}

// Greedy from the last chunk (the loosest): each takes as many blocks as fit its memory limit and
// the time bound `t_max` (costs may be empty: no time bound), leaving one block for each earlier
// chunk. With looser_later, a feasible cut's chunk c starts no earlier than greedy's (a block of
// an earlier, tighter chunk of that cut fits chunk c too), so greedy succeeds iff any cut does.
// Returns the bounds, or empty.
std::vector<int64_t> greedy_from_back(const ChunkMemoryLimits& l, int64_t chunks,
                                      const std::vector<double>& cost, double t_max) {
  const int64_t n = static_cast<int64_t>(l.fixed.size());
  std::vector<int64_t> bounds(chunks + 1);
  bounds[chunks] = n;
  int64_t end = n;
  for (int64_t c = chunks - 1; c >= 0; --c) {
    double f = 0, a = 0, t = 0;
    int64_t start = end;
    while (start > c) {  // blocks [0, c) stay for chunks 0..c-1
      const double nf = f + l.fixed[start - 1], na = a + l.scaled[start - 1];
      const double nt = cost.empty() ? 0 : t + cost[start - 1];
      if (nf + l.scale[c] * na > l.limit[c] || (!cost.empty() && nt > t_max)) break;
      f = nf, a = na, t = nt, --start;
    }
    if (start == end || (c == 0 && start != 0)) return {};
    bounds[c] = end = start;
  }
  return bounds;
}

// min-max cut under looser_later limits: the smallest slowest-chunk bound T for which the greedy
// succeeds, by bisection between the largest block and the total, to 1e-9 of the total (a cut
// within a billionth of the optimum: pipeline stage times are not known to that precision).
std::vector<int64_t> bisect_greedy(const std::vector<double>& cost, int64_t chunks, const ChunkMemoryLimits& l) {
  double lo = 0, hi = 0;
  for (double x : cost) lo = std::max(lo, x), hi += x;
  std::vector<int64_t> best = greedy_from_back(l, chunks, cost, hi);
  if (best.empty()) return {};
  lo = std::max(0.0, lo * (1 - 1e-15));
  const double tolerance = 1e-9 * hi;
  for (int it = 0; it < 60 && hi - lo > tolerance; ++it) {
    const double mid = lo + (hi - lo) / 2;
    std::vector<int64_t> b = greedy_from_back(l, chunks, cost, mid);
    if (b.empty()) lo = mid;
    else hi = mid, best = std::move(b);
  }
  return best;
}
}  // namespace

std::vector<int64_t> min_max_partition(const std::vector<double>& cost, int64_t chunks,
                                       const std::vector<double>& mem, double mem_limit) {
  if (mem.empty() || mem_limit <= 0) return min_max_partition(cost, chunks, nullptr);
  ChunkMemoryLimits l{mem, std::vector<double>(mem.size(), 0.0),
                      std::vector<double>(chunks > 0 ? chunks : 0, 0.0),
                      std::vector<double>(chunks > 0 ? chunks : 0, mem_limit)};
  return min_max_partition(cost, chunks, &l);
}

std::vector<int64_t> min_max_partition(const std::vector<double>& cost, int64_t chunks,
                                       const ChunkMemoryLimits* limits) {
  const int64_t n = static_cast<int64_t>(cost.size());
  if (chunks <= 0 || chunks > n) return {};
  std::vector<double> pc(n + 1, 0), pf(n + 1, 0), ps(n + 1, 0);
  bool nonnegative = true;
  for (int64_t i = 0; i < n; ++i) {
    const double f = limits ? limits->fixed[i] : 0, a = limits ? limits->scaled[i] : 0;
    nonnegative = nonnegative && cost[i] >= 0 && f >= 0 && a >= 0;
    pc[i + 1] = pc[i] + cost[i];
    pf[i + 1] = pf[i] + f;
    ps[i + 1] = ps[i] + a;
  }
  // The crossing-point search needs dp[c-1][j] to rise with j, which holds when every chunk has
  // the same limit; per-chunk limits (a 1F1B stage's in-flight count) can make a longer prefix
  // feasible where a shorter one is not, so those take the scan.
  bool uniform = true;
  if (limits)
    for (int64_t c = 0; c < chunks; ++c)
      uniform = uniform && limits->scale[c] >= 0 && limits->scale[c] == limits->scale[0] &&
                limits->limit[c] == limits->limit[0];
  const bool monotone = nonnegative && uniform;
  // Per-chunk limits that loosen along the pipeline (1F1B) have an O(n log) exact path.
  if (limits && !uniform && nonnegative && looser_later(*limits, chunks))
    return bisect_greedy(cost, chunks, *limits);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(chunks + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<int64_t>> cut(chunks + 1, std::vector<int64_t>(n + 1, -1));
  best[0][0] = 0;
  for (int64_t c = 1; c <= chunks; ++c) {
    const std::vector<double>& prev = best[c - 1];
    for (int64_t i = c; i <= n - (chunks - c); ++i) {
      auto value = [&](int64_t j) { return std::max(prev[j], pc[i] - pc[j]); };
      auto fits = [&](int64_t j) {
        return !limits || pf[i] - pf[j] + limits->scale[c - 1] * (ps[i] - ps[j]) <= limits->limit[c - 1];
      };
      if (!monotone && nonnegative) {
        // From the longest last chunk's end backwards: once the last chunk alone is slower than
        // the best found, no earlier cut can win (O(chunk length) per entry, not O(i)). `<=`
        // keeps the earliest cut among equals, as the other paths do.
        for (int64_t j = i - 1; j >= c - 1 && pc[i] - pc[j] <= best[c][i]; --j) {
          if (prev[j] == inf || !fits(j)) continue;
          if (value(j) <= best[c][i]) best[c][i] = value(j), cut[c][i] = j;
        }
        continue;
      }
      if (!monotone) {
        for (int64_t j = c - 1; j < i; ++j) {
          if (prev[j] == inf || !fits(j)) continue;
          if (value(j) < best[c][i]) best[c][i] = value(j), cut[c][i] = j;
        }
        continue;
      }
      // The last chunk [j, i) fits the memory limit from some j on (its memory falls with j).
      const int64_t lo = first_true(c - 1, i - 1, fits), hi = i - 1;
      if (lo > hi) continue;
      // x: the first j where prev[j] >= pc[i] - pc[j]; before it value(j) = pc[i] - pc[j] falls,
      // from it value(j) = prev[j] rises. The minimum is at x - 1 or x.
      const int64_t x = first_true(lo, hi, [&](int64_t j) { return prev[j] >= pc[i] - pc[j]; });
      double m = inf;
      if (x - 1 >= lo) m = std::min(m, value(x - 1));
      if (x <= hi) m = std::min(m, value(x));
      if (m == inf) continue;
      // The earliest j reaching m: in [lo, x) the first with pc[i] - pc[j] <= m, else x itself.
      int64_t j = first_true(lo, x - 1, [&](int64_t k) { return pc[i] - pc[k] <= m; });
      if (j > x - 1) j = x;
      best[c][i] = m;
      cut[c][i] = j;
    }
  }
  if (best[chunks][n] == inf) return {};
  std::vector<int64_t> bounds(chunks + 1);
  bounds[chunks] = n;
  for (int64_t c = chunks, i = n; c > 0; --c) {
    i = cut[c][i];
    bounds[c - 1] = i;
  }
  return bounds;
}

bool memory_cut_possible(const ChunkMemoryLimits& l, int64_t chunks) {
  const int64_t n = static_cast<int64_t>(l.fixed.size());
  if (chunks <= 0 || chunks > n) return false;
  if (!looser_later(l, chunks)) return true;
  return !greedy_from_back(l, chunks, {}, 0).empty();
}

std::vector<int64_t> even_layer_partition(int64_t blocks, int64_t chunks) {
  const int64_t layers = blocks - 2;
  std::vector<int64_t> bounds(chunks + 1);
  const int64_t per = layers / chunks;
  bounds[0] = 0;
  for (int64_t c = 1; c < chunks; ++c) bounds[c] = 1 + c * per;  // block 0 is the embedding
  bounds[chunks] = blocks;
  return bounds;
}

}  // namespace shardplan
