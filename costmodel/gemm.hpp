// Time of one GEMM on one GPU: FLOPs at a shape-dependent fraction of peak (tile and wave
// quantization over the SMs, short-k pipeline fill), bounded below by its memory traffic.
#pragma once
#include <cstdint>

#include "core/hardware.hpp"

namespace shardplan {

// Fraction of the GPU's compute a [m x k] x [k x n] GEMM (times `batch`) keeps busy, before the
// achievable-peak fraction: useful tile area over computed tile area across whole waves, times
// the k pipeline efficiency k / (k + 64).
double gemm_shape_efficiency(const GpuSpec& gpu, double m, double n, double k, double batch = 1);

// Seconds for C[m x n] = A[m x k] B[k x n], `batch` independent such GEMMs, in `dtype` math.
double gemm_time_s(const GpuSpec& gpu, DType dtype, double m, double n, double k, double batch = 1);

// Seconds to stream `bytes` through DRAM (memory-bound kernels), with per-kernel overhead.
double memory_time_s(const GpuSpec& gpu, double bytes, int kernels = 1);

}  // namespace shardplan
