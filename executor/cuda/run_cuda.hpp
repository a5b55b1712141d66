// The CUDA backend's entry points, for `shardplan run --backend cuda` and the GPU tests.
// Math: bf16 storage, float accumulation, float master weights and gradients (model.hpp);
// strategy.precision is not consulted. The optimizer, initialisation, data and schedules are the
// CPU backend's (executor/run.hpp), so losses match it to bf16 accuracy.
//
//  * nproc == 1: every rank of the plan is a thread of this process on GPU 0, talking through
//    the local communicator (comm_local.hpp): any dp·tp·pp fits on one GPU for checking numerics.
//  * nproc  > 1: one process per rank and GPU (nproc must equal dp·tp·pp and the GPUs present);
//    this process forks them, rank 0 makes the ncclUniqueId and hands it to the others through
//    pipes, and each child reports back through a pipe. With `worker_exe` (a program whose main()
//    calls run_cuda_worker_if_requested first, e.g. "/proc/self/exe"), each child execs it in
//    worker mode: a fresh process, so the caller may have used CUDA already. Without it the
//    children run the library code right after fork, so the caller must not have touched CUDA
//    (CUDA does not survive fork) and should run no other threads. A failed or hung rank ends
//    every rank within `comm_timeout` (NCCL watchdog, comm_nccl.hpp); the parent then stops any
//    child still running and reports the first error.
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "executor/rendezvous.hpp"
#include "executor/run.hpp"
#include "executor/unit.hpp"

namespace shardplan::executor {

// Throws std::runtime_error for plans it cannot run (the CPU backend's reasons, the CUDA
// backend's own below, no GPU, too few GPUs, no NCCL), with the reason.
// step_time_s is the mean of the steps after the first (which pays cuBLAS and allocator
// warm-up) when more than one step ran; step_times_s has every step.
RunReport run_training_cuda(const RunOptions& options, int nproc,
                            std::chrono::seconds comm_timeout = std::chrono::seconds(300),
                            const std::string& worker_exe = "");

// For programs that pass worker_exe: call first in main(); in a worker process (argv[1] is the
// marker below) it runs the rank, sets *rc to the exit status and returns true.
bool run_cuda_worker_if_requested(int argc, char** argv, int* rc);

// "" when run_training_cuda can run the plan with nproc processes as far as the plan goes (it
// does not look for GPUs: that would initialise CUDA before the fork).
std::string cuda_unsupported_reason(const RunOptions& options, int nproc);

}  // namespace shardplan::executor

namespace shardplan::executor::cuda {

// The one-process run behind nproc == 1, with the final parameters (bf16 working copies as
// float) and the optimizer settings exposed for tests.
RunReport train_local(const RunOptions& options, ParamStore<float>* final_params = nullptr,
                      const AdamWConfig& adamw = AdamWConfig(),
                      std::chrono::seconds comm_timeout = std::chrono::seconds(300));
// The forked multi-process run behind nproc > 1.
RunReport train_multiprocess(const RunOptions& options, int nproc,
                             std::chrono::seconds comm_timeout, const std::string& worker_exe = "");
// This process as one rank of a job another launcher started (mpirun, PMI, torchrun: `env`, its
// size dp*tp*pp), on its host's GPU env.local_rank, over NCCL; the NCCL id and the reports pass
// through the rendezvous at env.master_addr:master_port. Rank 0 returns the report, the others
// nullopt; a failed rank makes every rank throw with its reason.
std::optional<RunReport> train_launched(const RunOptions& options, const LaunchEnv& env,
                                        std::chrono::seconds comm_timeout);
inline constexpr const char* kCudaWorkerArg = "__shardplan_cuda_worker__";
inline constexpr const char* kWorkerEnv = "SHARDPLAN_CUDA_WORKER";

// step_time_s from the per-step times (see run_training_cuda).
double typical_step_time(const std::vector<double>& step_times_s);

}  // namespace shardplan::executor::cuda
