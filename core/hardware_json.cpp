// See hardware_json.hpp.
#include "core/hardware_json.hpp"

namespace shardplan {

using OJ = nlohmann::ordered_json;

namespace {
// Head-dim rates of kernel index i, only those measured (not 1).
OJ head_dim_json(const GpuSpec& g, int i) {
  OJ hd = OJ::object();
  const auto& t = g.attention_head_dim_scale[size_t(i)];
  for (int d = 0; d < 2; ++d) {
    OJ fb = OJ::object();
    if (t[size_t(2 * d)] != 1) fb["fwd"] = t[size_t(2 * d)];
    if (t[size_t(2 * d + 1)] != 1) fb["bwd"] = t[size_t(2 * d + 1)];
    if (!fb.empty()) hd[d == 0 ? "64" : "256"] = fb;
  }
  return hd;
}

OJ attention_kernels_json(const GpuSpec& g) {
  OJ ks = OJ::object();
  for (int i = 1; i < kAttentionKernelCount; ++i) {
    const auto& k = g.attention_kernels[size_t(i)];
    if (k[0] <= 0) continue;
    OJ kj{{"fwd", k[0]}, {"bwd", k[1]}};
    if (OJ hd = head_dim_json(g, i); !hd.empty()) kj["head_dim"] = hd;
    ks[attention_kernel_name(static_cast<AttentionKernel>(i))] = kj;
  }
  return ks;
}
}  // namespace

OJ gpu_to_json(const GpuSpec& g) {
  OJ peaks;
  for (int i = 0; i < kDTypeCount; ++i)
    peaks[dtype_name(static_cast<DType>(i))] = g.peak_tflops[static_cast<size_t>(i)];
  OJ source = OJ::object();
  for (const auto& [k, v] : g.source) source[k] = v;  // std::map: sorted keys
  return OJ{{"name", g.name},
            {"description", g.description},
            {"memory_bytes", g.memory_bytes},
            {"memory_bandwidth_GBps", g.memory_bandwidth_GBps},
            {"sms", g.sms},
            {"peak_tflops", peaks},
            {"gemm_peak_fraction", g.gemm_peak_fraction},
            {"attention_fwd_fraction", g.attention_fwd_fraction},
            {"attention_bwd_fraction", g.attention_bwd_fraction},
            {"attention_ramp_keys", g.attention_ramp_keys},
            {"attention_kernels", attention_kernels_json(g)},
            {"attention_head_dim", head_dim_json(g, 0)},
            {"sustained_compute_fraction", g.sustained_compute_fraction},
            {"clock_variation", g.clock_variation},
            {"memory_bandwidth_fraction", g.memory_bandwidth_fraction},
            {"kernel_overhead_us", g.kernel_overhead_us},
            {"gemm_tile_m", g.gemm_tile_m},
            {"gemm_tile_n", g.gemm_tile_n},
            {"gemm_pipeline_k", g.gemm_pipeline_k},
            {"comm_sms", g.comm_sms},
            {"runtime_reserved_bytes", g.runtime_reserved_bytes},
            {"allocator_fragmentation", g.allocator_fragmentation},
            {"source", source}};
}

OJ cluster_to_json(const ClusterSpec& c) {
  OJ net = OJ::array();
  for (const NetworkLevel& l : c.network) {
    OJ level{{"name", l.name}};
    if (l.gpus > 0) level["gpus"] = l.gpus;  // absent on the last level: it spans the cluster
    level["bandwidth_GBps"] = l.bandwidth_GBps;
    level["latency_us"] = l.latency_us;
    level["efficiency"] = l.efficiency;
    level["source"] = l.source;
    net.push_back(level);
  }
  return OJ{{"name", c.name},
            {"gpu", gpu_to_json(c.gpu)},
            {"gpus_per_node", c.gpus_per_node},
            {"nodes", c.nodes},
            {"network", net}};
}

}  // namespace shardplan
