// The CUDA executor seen from the main CLI (`run --backend cuda`, `calibrate --backend cuda`).
// The executor is its own program, shardplan-cuda (executor/cuda/tool_main.cpp), built beside
// shardplan where CMake finds a CUDA toolkit: this file runs it and reads its JSON back, so the
// main CLI never loads the CUDA libraries (cuBLAS and NCCL take half a second to load, on every
// call). Where shardplan-cuda is missing each entry point throws a UsageError saying so.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "executor/run.hpp"

namespace shardplan::cli {

// shardplan-cuda's path beside this program, "" when this build has none.
std::string cuda_program();

// Trains on the GPU(s): nproc 1 puts every rank on GPU 0; nproc = dp*tp*pp runs one process per
// GPU over NCCL. Under mpirun, PMI or torchrun (executor/rendezvous.hpp) this process is one rank
// of the job, and only rank 0 gets the report (the others nullopt). Throws UsageError with
// shardplan-cuda's reason when it cannot (a plan it does not run, no usable GPU, a failed rank).
std::optional<executor::RunReport> run_on_cuda(const executor::RunOptions& r, int nproc,
                                               std::chrono::seconds comm_timeout);

struct CudaCalibrationResult {
  std::string profile_json;       // the cluster profile (docs/hardware.md)
  std::string gpu_json;           // its GPU object alone (hardware/gpus format)
  std::string measurements_json;  // what was measured, for --json
  std::string summary;            // the same, readable
};
CudaCalibrationResult calibrate_on_cuda(const std::string& gpu_preset, double seconds_per_point);

}  // namespace shardplan::cli
