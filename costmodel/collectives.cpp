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
  const int64_t st = std::max<int64_t>(stride, 1), dom = c.domain_size(0);
  // The group spans stride*(n-1)+1 consecutive ranks.
  g.outer = &level_for_stride(c, st * (n - 1) + 1);
  // Megatron's groups of n ranks st apart start every n*st ranks (within each of the st
  // interleaved lattices), so group i covers slots i*n .. i*n+n-1 of st ranks each, and a domain
  // holds `per` slots. Groups that do not tile the domains straddle them unevenly (dp = 12 at
  // tp = 1 on 8-GPU nodes: ranks 8-19 are 8 + 4; tp = 6: ranks 6-11 are 2 + 4). Every group's
  // collective waits for the slowest, the one with the fewest ranks (NICs) in some domain.
  const int64_t per = std::max<int64_t>(1, dom / st);
  if (c.network.size() == 1 || per == 1) {
    g.local = g.local_min = std::min(per, n);
    g.domains = (n + g.local - 1) / g.local;
    if (g.domains == 1) g.outer = g.inner;
    return g;
  }
  if (per % n == 0) {  // groups tile the domains
    g.local = g.local_min = n;
    g.outer = g.inner;
    return g;
  }
  if (n % per == 0) {  // every group fills whole domains
    g.local = g.local_min = per;
    g.domains = n / per;
    return g;
  }
  const int64_t groups = std::max<int64_t>(1, c.total_gpus() / (n * st));
  g.local = g.local_min = n, g.domains = 1;
  for (int64_t i = 0; i < std::min(groups, per); ++i) {
    const int64_t first = std::min(n, per - (i * n) % per), rest = n - first;
    const int64_t last = rest % per, domains = 1 + rest / per + (last > 0);
    const int64_t least = last > 0 ? std::min(first, last) : first;
    const int64_t most = rest >= per ? per : std::max(first, last);
    if (least < g.local_min || (least == g.local_min && domains > g.domains))
      g.local_min = least, g.local = most, g.domains = domains;
  }
  if (g.domains == 1) {
    g.local = g.local_min = n;
    g.outer = g.inner;
  } else if (g.outer == g.inner) {
    g.outer = &level_for_stride(c, dom + 1);  // it fits in a domain's span but straddles two
  }
  return g;
}

namespace {
// The closed forms as (latency, bandwidth) pairs; `on_nic` says which part the bandwidth term is.
CommTime split(double latency_s, double bandwidth_s, bool on_nic) {
  return on_nic ? CommTime{latency_s, bandwidth_s} : CommTime{latency_s + bandwidth_s, 0};
}
// Ring all-reduce (nccl-tests): 2(n-1) alpha + 2(n-1)/n * S / B.
CommTime ring_all_reduce(int64_t n, double bytes, const NetworkLevel& l, bool on_nic) {
  if (n <= 1) return {};
  return split(2.0 * (n - 1) * alpha(l), 2.0 * (n - 1) / n * bytes / bw(l), on_nic);
}
// All-gather / reduce-scatter ring: (n-1) alpha + (n-1)/n * S / B.
CommTime ring_all_gather(int64_t n, double bytes, const NetworkLevel& l, bool on_nic) {
  if (n <= 1) return {};
  return split((n - 1) * alpha(l), double(n - 1) / n * bytes / bw(l), on_nic);
}
// Double binary tree (NCCL): 2 log2(n) alpha + 2 S / B (each byte goes up and down once).
CommTime tree_all_reduce(int64_t n, double bytes, const NetworkLevel& l, bool on_nic) {
  if (n <= 1) return {};
  return split(2.0 * std::ceil(std::log2(double(n))) * alpha(l), 2.0 * bytes / bw(l), on_nic);
}
// NCCL picks the faster of ring and tree; ties go to the ring.
CommTime faster(const CommTime& ring, const CommTime& tree) {
  return tree.total_s() < ring.total_s() ? tree : ring;
}
}  // namespace

double ring_all_reduce_s(int64_t n, double bytes, const NetworkLevel& l) {
  return ring_all_reduce(n, bytes, l, false).total_s();
}
double ring_all_gather_s(int64_t n, double bytes, const NetworkLevel& l) {
  return ring_all_gather(n, bytes, l, false).total_s();
}
double tree_all_reduce_s(int64_t n, double bytes, const NetworkLevel& l) {
  return tree_all_reduce(n, bytes, l, false).total_s();
}
double level_all_reduce_s(int64_t n, double bytes, const NetworkLevel& l) {
  return faster(ring_all_reduce(n, bytes, l, false), tree_all_reduce(n, bytes, l, false)).total_s();
}

double fit_all_reduce_latency_us(int64_t n, const std::vector<std::pair<double, double>>& points, NetworkLevel l) {
  if (n <= 1 || points.empty()) return 0;
  const double t0 = points.front().second;
  const double ring = t0 / (2.0 * double(n - 1)), tree = t0 / (2.0 * std::ceil(std::log2(double(n))));
  double best = ring, best_err = 1e300;
  constexpr int kSteps = 64;
  for (int i = 0; i <= kSteps; ++i) {
    const double a = ring * std::pow(tree / ring, double(i) / kSteps);  // geometric grid, ring first
    l.latency_us = a * 1e6;
    double err = 0;
    for (const auto& [bytes, t] : points) {
      const double r = level_all_reduce_s(n, bytes, l) / t - 1;
      err += r * r;
    }
    if (err < best_err) best_err = err, best = a;
  }
  return best * 1e6;
}

CommTime all_reduce_time(const GroupPlacement& g, double bytes) {
  if (g.n <= 1 || bytes <= 0) return {};
  if (g.domains == 1)
    return faster(ring_all_reduce(g.n, bytes, *g.inner, false),
                  tree_all_reduce(g.n, bytes, *g.inner, false));
  const int64_t k = g.local, nodes = g.domains;
  // Bandwidth as a hierarchy: reduce-scatter in the domain, all-reduce S/k across domains
  // (through the NIC; S/local_min where the group straddles domains unevenly: the side with
  // fewer ranks has fewer NICs), all-gather back. Latency as NCCL has it (src/graph/tuning.cc): its ring is
  // flat, 2(n-1) steps of which 2(nodes-1) cross the network, so a ring pays
  // 2*(nodes-1)*(k-1) more in-domain hops than the hierarchy; its tree goes up and down the
  // domain's chain once (2(k-1) hops) and the tree across domains (2*log2(nodes)).
  const CommTime in_domain = ring_all_gather(k, bytes, *g.inner, false).scaled(2);
  const CommTime ring = in_domain + ring_all_reduce(nodes, bytes / g.local_min, *g.outer, true) +
                        CommTime{2.0 * double(nodes - 1) * double(k - 1) * alpha(*g.inner), 0};
  return faster(ring, in_domain + tree_all_reduce(nodes, bytes / g.local_min, *g.outer, true));
}

CommTime all_gather_time(const GroupPlacement& g, double bytes) {
  if (g.n <= 1 || bytes <= 0) return {};
  if (g.domains == 1) return ring_all_gather(g.n, bytes, *g.inner, false);
  const int64_t k = g.local, nodes = g.domains;
  // Bandwidth: across domains (each rank moves its 1/k slice of every other domain's data), then
  // inside. Latency: NCCL's all-gather and reduce-scatter are flat rings of n-1 steps, nodes-1 of
  // them across the network and n-nodes inside a domain (src/graph/tuning.cc), (nodes-1)*(k-1)
  // in-domain hops more than the two rings of the hierarchy.
  return ring_all_gather(nodes, bytes / g.local_min, *g.outer, true) + ring_all_gather(k, bytes, *g.inner, false) +
         CommTime{double(nodes - 1) * double(k - 1) * alpha(*g.inner), 0};
}

double all_reduce_s(const GroupPlacement& g, double bytes) {
  return all_reduce_time(g, bytes).total_s();
}
double all_gather_s(const GroupPlacement& g, double bytes) {
  return all_gather_time(g, bytes).total_s();
}
double reduce_scatter_s(const GroupPlacement& g, double bytes) { return all_gather_s(g, bytes); }

double all_to_all_s(const GroupPlacement& g, double bytes) {
  if (g.n <= 1 || bytes <= 0) return 0;
  const NetworkLevel& l = *g.outer;
  // Traffic leaving the domain goes over the outer level (most from the ranks of the domain that
  // holds fewest of the group); the rest stays on NVLink.
  double off_domain = double(g.n - g.local_min) / g.n;
  double on_domain = double(g.local - 1) / g.n;
  double t = (g.n - 1) * alpha(l) + off_domain * bytes / bw(l);
  if (g.outer != g.inner) t = std::max(t, on_domain * bytes / bw(*g.inner));
  else t = (g.n - 1) * alpha(l) + (on_domain + off_domain) * bytes / bw(l);
  return t;
}

// The chain of `stages` ranks `stride` apart is a group like any other: if it does not stay inside
// one domain, some hop leaves it (stride 4, 4 stages on 8-GPU nodes: rank 4 -> 8), and every
// micro-batch passes through every hop, so the slowest hop is the pipeline's.
const NetworkLevel& p2p_level(const ClusterSpec& c, int64_t stride, int64_t stages) {
  return *place_group(c, std::max<int64_t>(stages, 2), stride).outer;
}

bool p2p_crosses_domain(const ClusterSpec& c, int64_t stride, int64_t stages) {
  return &p2p_level(c, stride, stages) != &c.network.front();
}

double p2p_s(const ClusterSpec& c, int64_t stride, int64_t stages, double bytes) {
  const NetworkLevel& l = p2p_level(c, stride, stages);
  return alpha(l) + bytes / bw(l);
}

}  // namespace shardplan
