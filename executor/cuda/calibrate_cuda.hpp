// `shardplan calibrate --backend cuda`: measures the GPUs of this machine as the CUDA executor
// uses them (a cuBLAS GEMM grid over shapes and math types, the executor's fused attention
// kernel forward and backward, device memory bandwidth, kernel launch cost, the memory the
// runtime takes, and NCCL all-reduce over the GPUs present) and writes a hardware profile
// (docs/hardware.md: a cluster file with its GPU inline). Datasheet figures (peaks, nominal
// bandwidths, GEMM tile shapes) come from the shipped preset of the same GPU; the fractions and
// allowances the cost model multiplies them by are the measurements.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/hardware.hpp"

namespace shardplan::executor::cuda {

struct CudaCalibrationOptions {
  std::string gpu_preset;           // base preset; "" picks it from the device name
  double seconds_per_point = 0.05;  // minimum timed wall time of each measurement
  bool collectives = true;          // NCCL all-reduce over every GPU (when there are two or more)
};

struct CudaGemmPoint {
  int64_t m = 0, n = 0, k = 0;  // C[m,n] = A[m,k]·B[k,n]
  std::string math;             // "bf16", "fp16", "tf32", "fp32" (inputs and tensor-core mode)
  double tflops = 0;            // 2·m·n·k / time
};

struct CudaCollectivePoint {
  int64_t bytes = 0;    // per rank
  double time_s = 0;    // median of the repetitions
  double bus_GBps = 0;  // nccl-tests bus bandwidth: 2(n-1)/n · bytes / time
};

// Keys per query of the fused-attention measurement (batch 4, 16 heads of 128, causal).
inline constexpr int64_t kCalibrationAttentionKeys = 4096;

struct CudaCalibration {
  std::string device;  // cudaDeviceProp::name of GPU 0
  int devices = 0;
  int sms = 0;
  std::string versions;  // driver, runtime, cuBLAS, NCCL
  double memory_total_bytes = 0;
  std::string base_preset;  // the shipped GPU preset its datasheet figures come from
  std::vector<CudaGemmPoint> gemm;
  double attention_fwd_tflops = 0, attention_bwd_tflops = 0;  // FlashAttention FLOP convention
  std::string attention_shape;
  double copy_GBps = 0;       // device-to-device copy, read + write bytes / time
  // The executor's memory-bound kernels (layernorm and GELU, forward and backward) on 8192 x
  // 4096 elements: the bytes they move over their time, together and each ("name GB/s; ...").
  double pointwise_GBps = 0;
  std::string pointwise_detail;
  double launch_us = 0;       // per kernel, back to back
  double reserved_bytes = 0;  // taken by context, cuBLAS workspace (and NCCL) before any tensor
  std::vector<CudaCollectivePoint> all_reduce;  // bf16 over `devices` GPUs (empty with one)
  double latency_us = 0;                        // ring alpha per hop, from the smallest all-reduce
  double bus_GBps = 0;                          // best measured bus bandwidth
};

// Throws std::runtime_error when there is no GPU, or no preset for it and none given.
CudaCalibration calibrate_cuda(const CudaCalibrationOptions& o = {});

// The GPU preset whose datasheet figures describe `device_name` ("NVIDIA H200" -> "h200"),
// "" when none does.
std::string preset_for_device(const std::string& device_name, double memory_bytes);

// The profile the measurements imply: the base preset's datasheet figures with the measured
// fractions, and a one-node cluster of the GPUs present whose innermost level (named after the
// preset cluster's) carries the measured NCCL bus bandwidth.
ClusterSpec cuda_cluster_profile(const CudaCalibration& c);
std::string cuda_cluster_profile_json(const ClusterSpec& c, const CudaCalibration& m);

}  // namespace shardplan::executor::cuda

namespace shardplan::executor {
// The cluster profile JSON of calibrate_cuda() with default options (what `shardplan calibrate
// --backend cuda` writes).
std::string calibrate_cuda_profile_json();
}  // namespace shardplan::executor
