// Collective closed forms. Bandwidth terms use the achievable bus bandwidth of a level
// (nominal per-GPU one-direction bandwidth times its measured efficiency).
#include "costmodel/collectives.hpp"

#include <algorithm>
#include <cmath>

namespace shardplan {

namespace {
double bw(const NetworkLevel& l) { return l.bandwidth_GBps * 1e9 * l.efficiency; }
double alpha(const NetworkLevel& l) { return l.latency_us * 1e-6; }
}  // namespace

const NetworkLevel& level_for_stride(const ClusterSpec& c, int64_t span) {
  // The innermost level whose domain contains `span` consecutive ranks.
  for (size_t i = 0; i < c.network.size(); ++i)
    if (span <= c.domain_size(i)) return c.network[i];
  return c.network.back();
}

GroupPlacement place_group(const ClusterSpec& c, int64_t n, int64_t stride) {
  GroupPlacement g;
  g.n = n;
  g.inner = &c.network.front();
  int64_t dom = c.domain_size(0);
  g.local = std::clamp<int64_t>(dom / std::max<int64_t>(stride, 1), 1, n);
  // The group spans stride*(n-1)+1 consecutive ranks.
  g.outer = &level_for_stride(c, stride * (n - 1) + 1);
  if (g.local == n) g.outer = g.inner;
  return g;
}

// Ring all-reduce (nccl-tests): 2(n-1) alpha + 2(n-1)/n * S / B.
double ring_all_reduce_s(int64_t n, double bytes, const NetworkLevel& l) {
  if (n <= 1) return 0;
  return 2.0 * (n - 1) * alpha(l) + 2.0 * (n - 1) / n * bytes / bw(l);
}

// All-gather / reduce-scatter ring: (n-1) alpha + (n-1)/n * S / B.
double ring_all_gather_s(int64_t n, double bytes, const NetworkLevel& l) {
  if (n <= 1) return 0;
  return (n - 1) * alpha(l) + double(n - 1) / n * bytes / bw(l);
}

// Double binary tree (NCCL): 2 log2(n) alpha + 2 S / B (each byte goes up and down once).
double tree_all_reduce_s(int64_t n, double bytes, const NetworkLevel& l) {
  if (n <= 1) return 0;
  return 2.0 * std::ceil(std::log2(double(n))) * alpha(l) + 2.0 * bytes / bw(l);
}

double all_reduce_s(const GroupPlacement& g, double bytes) {
  if (g.n <= 1 || bytes <= 0) return 0;
  if (g.local == g.n) return std::min(ring_all_reduce_s(g.n, bytes, *g.inner), tree_all_reduce_s(g.n, bytes, *g.inner));
  int64_t k = g.local, nodes = g.n / g.local;
  // Hierarchical: reduce-scatter in the domain, all-reduce S/k across domains, all-gather back.
  double across = std::min(ring_all_reduce_s(nodes, bytes / k, *g.outer), tree_all_reduce_s(nodes, bytes / k, *g.outer));
  return ring_all_gather_s(k, bytes, *g.inner) * 2 + across;
}

double all_gather_s(const GroupPlacement& g, double bytes) {
  if (g.n <= 1 || bytes <= 0) return 0;
  if (g.local == g.n) return ring_all_gather_s(g.n, bytes, *g.inner);
  int64_t k = g.local, nodes = g.n / g.local;
  // Across domains first (each rank moves its 1/k slice of every other domain's data), then inside.
  return ring_all_gather_s(nodes, bytes / k, *g.outer) + ring_all_gather_s(k, bytes, *g.inner);
}

double reduce_scatter_s(const GroupPlacement& g, double bytes) { return all_gather_s(g, bytes); }

double all_to_all_s(const GroupPlacement& g, double bytes) {
  if (g.n <= 1 || bytes <= 0) return 0;
  const NetworkLevel& l = *g.outer;
  // Traffic leaving the domain goes over the outer level; the rest stays on NVLink.
  double off_domain = double(g.n - g.local) / g.n;
  double on_domain = double(g.local - 1) / g.n;
  double t = (g.n - 1) * alpha(l) + off_domain * bytes / bw(l);
  if (g.outer != g.inner) t = std::max(t, on_domain * bytes / bw(*g.inner));
  else t = (g.n - 1) * alpha(l) + (on_domain + off_domain) * bytes / bw(l);
  return t;
}

double p2p_s(const ClusterSpec& c, int64_t stride, double bytes) {
  const NetworkLevel& l = level_for_stride(c, stride + 1);
  return alpha(l) + bytes / bw(l);
}

}  // namespace shardplan
