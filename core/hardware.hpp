// GPUs and clusters: datasheet figures and measured efficiencies, each with its source
// (hardware/gpus/*.json, hardware/clusters/*.json; format in docs/hardware.md).
// Units: bytes, GB/s = 1e9 bytes/s, TFLOP/s = 1e12 FLOP/s, microseconds.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/attention_kernel.hpp"
#include "core/dtype.hpp"

namespace shardplan {

struct GpuSpec {
  std::string name;
  std::string description;
  double memory_bytes = 0;
  double memory_bandwidth_GBps = 0;       // datasheet DRAM bandwidth
  int64_t sms = 0;                        // streaming multiprocessors (compute units)
  std::array<double, kDTypeCount> peak_tflops{};  // dense, per dtype; 0 = unsupported
  // Measured efficiencies (fractions of the datasheet figure), see docs/hardware.md.
  double gemm_peak_fraction = 0.8;        // large, well-shaped GEMMs (cuBLAS) vs peak
  double attention_fwd_fraction = 0.6;    // fused (flash) attention forward vs peak
  double attention_bwd_fraction = 0.5;    // fused (flash) attention backward vs peak
  // Keys at which fused attention reaches half its long-sequence rate: the fractions above hold
  // for long sequences and scale by s_k / (s_k + attention_ramp_keys) (per query tile, the
  // half-masked diagonal block and the tile's prologue and epilogue). 0: flat.
  double attention_ramp_keys = 0;
  // Rates of named kernels {forward, backward}, for runs that use another kernel than the
  // default (the fractions above); {0, 0}: no figures for that kernel on this GPU.
  std::array<std::array<double, 2>, kAttentionKernelCount> attention_kernels{};
  // The fused-attention fractions above are for head dim 128. Rates at head dims 64 and 256
  // relative to 128, per kernel (index 0: the default): {fwd at 64, bwd at 64, fwd at 256, bwd
  // at 256}; 1 where there are no figures. Between and beyond, attention_head_dim_factor().
  std::array<std::array<double, 4>, kAttentionKernelCount> attention_head_dim_scale = {
      {{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}}};
  // Tensor-core rate a training run sustains against the short microbenchmarks behind the
  // fractions above (the power cap lowers the clocks under hours of dense math): scales GEMM and
  // fused-attention rates, not memory-bound kernels. 1: the microbenchmarks hold.
  double sustained_compute_fraction = 1;
  // Chip-to-chip spread of that sustained rate: the relative standard deviation of tensor-core
  // throughput across GPUs of this type in one cluster (manufacturing variation under the power
  // manager). A synchronous job runs at its slowest GPU's pace (costmodel/gpu_variation.hpp).
  // 0: all GPUs alike.
  double clock_variation = 0;
  double memory_bandwidth_fraction = 0.85;  // streaming kernels vs datasheet bandwidth
  double kernel_overhead_us = 4;          // launch + tail per kernel
  int64_t gemm_tile_m = 128;              // output tile of the GEMM kernels (wave quantization)
  int64_t gemm_tile_n = 256;
  // k consumed by the GEMM kernel's mainloop prologue and epilogue (~2 k-tiles of a GPU kernel):
  // shape efficiency k / (k + gemm_pipeline_k). 0: none (a CPU GEMM is flat down to small k).
  double gemm_pipeline_k = 64;
  // SMs a collective kernel occupies while it runs beside a GEMM (NCCL channels, Transformer
  // Engine's userbuffers): the GEMM then runs on sms - comm_sms. 0: no contention (CPU profiles).
  int64_t comm_sms = 0;
  double runtime_reserved_bytes = 0;      // CUDA context, cuBLAS workspace, NCCL buffers
  double allocator_fragmentation = 0.05;  // fraction of the rest lost to the caching allocator
  std::map<std::string, std::string> source;  // field -> where the figure comes from
  bool operator==(const GpuSpec&) const = default;

  double peak_flops(DType d) const { return peak_tflops[static_cast<int>(d)] * 1e12; }
  // The rate of kernel `k` at `head_dim` relative to head dim 128: linear in log2(head_dim)
  // between the measured 64, 128 (1) and 256, held flat outside them.
  double attention_head_dim_factor(AttentionKernel k, double head_dim, bool backward) const;
};

// One level of the interconnect, innermost first: NVLink domain, then the network.
struct NetworkLevel {
  std::string name;
  int64_t gpus = 0;            // GPUs in one domain of this level (0 = the whole cluster)
  double bandwidth_GBps = 0;   // per GPU, one direction, nominal
  double latency_us = 0;       // per message hop (alpha)
  double efficiency = 0.8;     // achievable bus bandwidth / nominal (nccl-tests busbw)
  std::string source;
  bool operator==(const NetworkLevel&) const = default;
};

// The most GPUs a cluster (or --gpus) may have: counts stay far inside int64 when multiplied.
inline constexpr int64_t kMaxGpus = 10'000'000;

struct ClusterSpec {
  std::string name;
  GpuSpec gpu;
  int64_t gpus_per_node = 8;
  int64_t nodes = 1;
  std::vector<NetworkLevel> network;  // innermost first; the last spans the cluster
  bool operator==(const ClusterSpec&) const = default;

  int64_t total_gpus() const { return gpus_per_node * nodes; }
  // Size of the domain of level i (the last level spans everything).
  int64_t domain_size(size_t level) const;
  // Sets the GPU count (nodes follow, rounding up).
  void set_gpu_count(int64_t gpus);
};

// Directories searched for presets: $SHARDPLAN_HARDWARE, then <exe dir>/../hardware, ./hardware.
std::vector<std::string> hardware_search_dirs();
// A GPU by preset name or file path.
GpuSpec load_gpu(const std::string& name_or_file);
// A cluster by preset name or file path.
ClusterSpec load_cluster(const std::string& name_or_file);
ClusterSpec cluster_from_json_text(const std::string& text, const std::string& file);
GpuSpec gpu_from_json_text(const std::string& text, const std::string& file);
std::vector<std::string> list_presets(const std::string& kind);  // "gpus" or "clusters"
// Where the executable lives (set by main), to find the shipped data next to it.
void set_program_path(const std::string& argv0);
std::string program_dir();  // the running program's directory ("" before set_program_path)
std::string data_dir(const std::string& sub);  // first existing <dir>/<sub> among the data roots

}  // namespace shardplan
