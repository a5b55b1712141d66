// Calibration of this machine as the CPU executor uses it: GEMM rates by shape through the
// executor's Eigen path, streaming memory bandwidth, and in-process collective latency and
// bandwidth; and the hardware profile (a GPU and a one-level cluster, docs/hardware.md) they imply.
// One rank is one thread: rates are per thread, measured while `threads` threads run at once, each
// the best of several repetitions, compute timed by the thread's CPU time (so other processes on
// a shared machine do not count) and collectives by wall time as the trainer calls them: after
// computing, from the last rank's arrival to the last rank's return (waking is part of the cost).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/hardware.hpp"

namespace shardplan::executor {

struct CalibrationOptions {
  int threads = 0;                  // concurrent ranks measured (0: the machine's cores)
  double seconds_per_point = 0.05;  // minimum timed wall time of each measurement
};

struct GemmPoint {
  int64_t m = 0, n = 0, k = 0;  // C[m,n] = A[m,k]·B[k,n], float32
  double gflops = 0;            // per thread, 2·m·n·k / time
};

struct CollectivePoint {
  int64_t bytes = 0;  // per rank
  double time_s = 0;  // median over calls of last arrival to last return (wall time)
};

struct Calibration {
  std::string host;
  int threads = 1;              // concurrent ranks during the measurements
  int cores = 1;
  double memory_bytes = 0;      // physical RAM
  std::vector<GemmPoint> gemm;  // the grid, in order
  double call_overhead_us = 0;  // one 1x1x1 GEMM call through the executor path
  double copy_GBps = 0;         // per thread: read + write bytes / time, all threads streaming
  double add_GBps = 0;          // per thread: a[i] = b[i] + c[i], 3 arrays
  double pointwise_GBps = 0;    // per thread: the executor's SwiGLU and RMSNorm kernels, 1 MiB arrays
  std::vector<CollectivePoint> all_reduce;  // float32 all-reduce over `threads` ranks
  double latency_us = 0;        // alpha of the ring model fitted to all_reduce
  double bus_GBps = 0;          // beta: bytes moved per rank per second at large sizes
};

// Runs every measurement (a few seconds at the default options).
Calibration calibrate_cpu(const CalibrationOptions& o = {});

// The profile: a GPU named "cpu-<host>" whose fp32 peak is the best measured GEMM rate (so
// gemm_peak_fraction is 1), measured bandwidth (fraction 1), sms = cores, no runtime allowance;
// and a cluster "cpu-<host>" of `cores` ranks with one network level "threads".
ClusterSpec cpu_cluster_profile(const Calibration& c);
// The cluster file (docs/hardware.md format, GPU inline) and the GPU file, as JSON text.
std::string cluster_profile_json(const ClusterSpec& c);
std::string gpu_profile_json(const GpuSpec& g);

}  // namespace shardplan::executor
