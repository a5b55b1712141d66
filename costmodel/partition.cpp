// Min-max contiguous partition: dp[c][i] = best slowest-chunk time for the first i blocks in c
// chunks; O(chunks * blocks^2) with prefix sums, ties broken towards earlier cuts.
#include "costmodel/partition.hpp"

#include <algorithm>
#include <limits>

namespace shardplan {

std::vector<int64_t> min_max_partition(const std::vector<double>& cost, int64_t chunks,
                                       const std::vector<double>& mem, double mem_limit) {
  const int64_t n = static_cast<int64_t>(cost.size());
  if (chunks <= 0 || chunks > n) return {};
  std::vector<double> pc(n + 1, 0), pm(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    pc[i + 1] = pc[i] + cost[i];
    pm[i + 1] = pm[i] + (mem.empty() ? 0 : mem[i]);
  }
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(chunks + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<int64_t>> cut(chunks + 1, std::vector<int64_t>(n + 1, -1));
  best[0][0] = 0;
  for (int64_t c = 1; c <= chunks; ++c) {
    for (int64_t i = c; i <= n - (chunks - c); ++i) {
      for (int64_t j = c - 1; j < i; ++j) {
        if (best[c - 1][j] == inf) continue;
        if (mem_limit > 0 && pm[i] - pm[j] > mem_limit) continue;
        double v = std::max(best[c - 1][j], pc[i] - pc[j]);
        if (v < best[c][i]) {
          best[c][i] = v;
          cut[c][i] = j;
        }
      }
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
