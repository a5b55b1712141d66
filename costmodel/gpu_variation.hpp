// GPUs of one type are not alike: under the power manager each chip sustains its own tensor-core
// rate, a few percent apart (Sinha et al., "Not All GPUs Are Created Equal", SC'22, arXiv
// 2208.11035: 8% average and up to 22% spread of compute-bound performance across the GPUs of
// one cluster). Synchronous training waits for its slowest GPU at every collective and pipeline
// hand-off, and the spread is a property of the chip, so the same GPU is slowest all step long:
// a job on n GPUs runs its tensor-core math at the pace of the slowest of n draws.
#pragma once
#include <cstdint>

#include "core/hardware.hpp"

namespace shardplan {

// E[max of n independent standard normals], Blom's approximation
// Phi^-1((n - 0.375) / (n + 0.25)); 0 for n <= 1.
double expected_max_standard_normal(int64_t n);

// How much longer the job's tensor-core math takes than a median GPU's: 1 + clock_variation *
// E[max of n]. 1 when the GPU preset gives no variation (clock_variation = 0).
double slowest_gpu_factor(const GpuSpec& gpu, int64_t gpus);

}  // namespace shardplan
