// Internal to simulator/: checks that a StageCosts has the shape and values simulate() needs,
// so bad input becomes an error string, never an out-of-range read.
#include <fmt/format.h>

#include <cmath>

#include "simulator/sim_graph.hpp"

namespace shardplan::detail {
namespace {

bool bad(double x) {
  return !std::isfinite(x) || x < 0;
}

}  // namespace

std::string check_costs(const StageCosts& c, const SimOptions& o) {
  if (auto e = schedule_error(c.schedule, c.pp, c.vp, c.micro_batches); !e.empty()) return e;
  const size_t pp = static_cast<size_t>(c.pp), vp = static_cast<size_t>(c.vp);
  if (c.chunks.size() != pp)
    return fmt::format("chunks: expected {} stages (pp), found {}", pp, c.chunks.size());
  bool any_bytes = false;
  for (size_t s = 0; s < pp; ++s) {
    if (c.chunks[s].size() != vp)
      return fmt::format("chunks[{}]: expected {} chunks (vp), found {}", s, vp,
                         c.chunks[s].size());
    for (size_t v = 0; v < vp; ++v) {
      const ChunkCost& k = c.chunks[s][v];
      for (double x : {k.fwd_s, k.bwd_input_s, k.bwd_weight_s, k.recompute_s, k.activation_bytes, k.w_pending_bytes,
                       k.send_bytes, k.param_gather_bytes, k.grad_bytes})
        if (bad(x))
          return fmt::format("chunks[{}][{}]: a time or size is negative or not finite", s, v);
      if (k.blocks < 1) return fmt::format("chunks[{}][{}]: blocks must be at least 1", s, v);
      any_bytes = any_bytes || k.send_bytes > 0;
    }
  }
  const std::pair<const char*, const std::vector<double>*> per_stage[] = {
      {"static_bytes", &c.static_bytes},   {"optimizer_s", &c.optimizer_s},
      {"dp_comm_s", &c.dp_comm_s},         {"param_gather_s", &c.param_gather_s},
      {"dp_comm_nic_s", &c.dp_comm_nic_s}, {"param_gather_nic_s", &c.param_gather_nic_s},
      {"grad_reduce_per_mb_s", &c.grad_reduce_per_mb_s},
      {"grad_reduce_per_mb_nic_s", &c.grad_reduce_per_mb_nic_s},
      {"param_gather_after_s", &c.param_gather_after_s},
      {"param_gather_after_nic_s", &c.param_gather_after_nic_s}};
  for (auto [name, v] : per_stage) {
    if (!v->empty() && v->size() != pp)
      return fmt::format("{}: expected {} values (one per stage) or none, found {}", name, pp,
                         v->size());
    for (double x : *v)
      if (bad(x)) return fmt::format("{}: a value is negative or not finite", name);
  }
  if (bad(c.p2p.bandwidth_Bps) || bad(c.p2p.latency_s)) return "p2p: bandwidth or latency invalid";
  if (bad(c.nic.bandwidth_Bps) || bad(c.nic.latency_s)) return "nic: bandwidth or latency invalid";
  // The NIC part of a DP time is part of it, and needs a NIC to run on.
  const std::pair<const std::vector<double>*, const std::vector<double>*> nic_parts[] = {
      {&c.dp_comm_nic_s, &c.dp_comm_s}, {&c.param_gather_nic_s, &c.param_gather_s},
      {&c.grad_reduce_per_mb_nic_s, &c.grad_reduce_per_mb_s},
      {&c.param_gather_after_nic_s, &c.param_gather_after_s}};
  for (auto [nic, total] : nic_parts)
    for (size_t s = 0; s < nic->size(); ++s) {
      if ((*nic)[s] <= 0) continue;
      if (c.nic.bandwidth_Bps <= 0)
        return "nic.bandwidth_Bps: DP traffic crosses nodes but the NIC has no bandwidth";
      if ((*nic)[s] > at_or_zero(*total, static_cast<int64_t>(s)) * (1 + 1e-9))
        return fmt::format("stage {}: the NIC part of a DP time exceeds the time", s);
    }
  if (c.pp > 1 && any_bytes && c.p2p.bandwidth_Bps <= 0)
    return "p2p.bandwidth_Bps: stages send bytes but the link has no bandwidth";
  if (!(c.backward_gathers >= 1 && c.backward_gathers <= 2)) return "backward_gathers must be between 1 and 2";
  if (o.dp < 1) return "dp must be at least 1";
  if (o.grad_buckets_per_chunk < 1 || o.grad_buckets_per_chunk > 4096)
    return "grad_buckets_per_chunk must be between 1 and 4096";
  if (o.max_units_per_pass < 1 || o.max_units_per_pass > 4096)
    return "max_units_per_pass must be between 1 and 4096";
  double replicas = o.full ? static_cast<double>(o.dp) : 1.0;
  // Per pass about 8 tasks; split into units (ZeRO-2/3) about 6 per unit (recompute, compute,
  // gather and reduction flows between barriers).
  bool units = false;
  for (const auto* v : {&c.param_gather_s, &c.grad_reduce_per_mb_s})
    for (double x : *v) units = units || x > 0;
  double tasks = replicas * c.pp * c.vp * static_cast<double>(c.micro_batches) *
                 (units ? 8 + 6 * static_cast<double>(o.max_units_per_pass) : 8);
  if (tasks + replicas * c.pp * c.vp * o.grad_buckets_per_chunk > 2e8)  // ~10 GB of graph
    return fmt::format("too large to simulate (about {:.3g} tasks)", tasks);
  return "";
}

}  // namespace shardplan::detail
