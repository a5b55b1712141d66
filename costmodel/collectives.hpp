// Collective and point-to-point times on a hierarchical network (nccl-tests PERFORMANCE.md):
// alpha-beta per level, ring and tree, hierarchical over the NVLink domain then the network.
// S is the full buffer size in bytes (the all-reduced buffer, the gathered result).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "core/hardware.hpp"

namespace shardplan {

// Where a process group sits: n ranks, `stride` apart in the rank layout (TP innermost).
struct GroupPlacement {
  int64_t n = 1;
  int64_t local = 1;        // ranks of the group inside one innermost (NVLink) domain (the most)
  int64_t local_min = 1;    // the fewest in any domain the slowest group touches (its NICs)
  int64_t domains = 1;      // innermost domains the slowest group spans
  const NetworkLevel* inner = nullptr;  // the innermost level
  const NetworkLevel* outer = nullptr;  // the level that spans the whole group
};

GroupPlacement place_group(const ClusterSpec& cluster, int64_t n, int64_t stride);

// Single-level closed forms (one ring over n ranks on `level`).
double ring_all_reduce_s(int64_t n, double bytes, const NetworkLevel& level);
double ring_all_gather_s(int64_t n, double bytes, const NetworkLevel& level);  // also reduce-scatter
double tree_all_reduce_s(int64_t n, double bytes, const NetworkLevel& level);
// One level's all-reduce as NCCL and the estimator run it: the faster of ring and tree.
double level_all_reduce_s(int64_t n, double bytes, const NetworkLevel& level);
// The per-hop latency (us) that makes level_all_reduce_s fit measured all-reduce times over n
// ranks (relative error, least squares over a grid) with `level`'s bandwidth held: between the
// ring's reading of the smallest time (alpha = t / 2(n-1)) and the tree's (t / 2 log2 n), which
// differ from 8 ranks up. `level.latency_us` is ignored.
double fit_all_reduce_latency_us(int64_t n, const std::vector<std::pair<double, double>>& bytes_and_seconds,
                                 NetworkLevel level);

// A collective's time split for the simulator, which runs the NIC part as a flow on each GPU's
// NIC so that it shares bandwidth with other transfers there. nic_s: the bandwidth term of the
// levels above the innermost (NVLink) domain, i.e. bytes through the NIC / its bandwidth; fixed_s:
// everything else (latency terms, traffic inside the domain). The *_s functions below are the
// total_s() of these, so the simulator and the estimate price a collective the same way.
struct CommTime {
  double fixed_s = 0, nic_s = 0;
  double total_s() const { return fixed_s + nic_s; }
  CommTime operator+(const CommTime& o) const { return {fixed_s + o.fixed_s, nic_s + o.nic_s}; }
  CommTime scaled(double f) const { return {fixed_s * f, nic_s * f}; }
};

// On a placed group: hierarchical when it spans domains.
CommTime all_reduce_time(const GroupPlacement& g, double bytes);
CommTime all_gather_time(const GroupPlacement& g, double bytes);  // also reduce-scatter
double all_reduce_s(const GroupPlacement& g, double bytes);
double all_gather_s(const GroupPlacement& g, double bytes);
double reduce_scatter_s(const GroupPlacement& g, double bytes);
// Each rank sends bytes*(n-1)/n to the others (EP dispatch/combine); `bytes` is per rank.
double all_to_all_s(const GroupPlacement& g, double bytes);
// One message between neighbouring stages of a pipeline of `stages` ranks `stride` apart, on the
// level of its slowest hop (p2p_level). p2p_crosses_domain: that hop goes through the NIC.
const NetworkLevel& p2p_level(const ClusterSpec& cluster, int64_t stride, int64_t stages);
bool p2p_crosses_domain(const ClusterSpec& cluster, int64_t stride, int64_t stages);
double p2p_s(const ClusterSpec& cluster, int64_t stride, int64_t stages, double bytes);
const NetworkLevel& level_for_stride(const ClusterSpec& cluster, int64_t stride);

}  // namespace shardplan
