// The executor's public entry: train a GPT-style decoder on CPU threads (one per rank) under a
// Strategy's TP/PP/DP/ZeRO/SP/recompute/schedule, in float32, and report losses, speed and the
// peak memory of every rank by category. Math is float32 whatever strategy.precision says;
// tp_comm_overlap, flash_attention and overlap_grad_reduce change nothing on this backend.
// Optimizer: AdamW (lr 1e-3, betas 0.9/0.95, eps 1e-8, weight decay 0.1 on matrices only),
// global gradient-norm clipping at 1.0; weights initialised as GPT-2 from `seed` (params.hpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_spec.hpp"
#include "core/strategy.hpp"
#include "executor/memory.hpp"

namespace shardplan::executor {

struct RunOptions {
  ModelSpec model;
  Strategy strategy;
  int steps = 5;                // total steps of the run (a resumed run continues up to this)
  uint64_t seed = 1;            // weights and synthetic data
  std::string data_file;        // "" : synthetic tokens; else a token file (data.hpp)
  std::string checkpoint_dir;   // "" : none; else one file per rank written after the last step
  bool resume = false;          // continue from checkpoint_dir's checkpoint
  // The pipeline cut: pp·vp + 1 layer indices, chunk c (= v·pp + stage) holding layers
  // [layer_bounds[c], layer_bounds[c+1]) (`run PLAN` maps the plan's chunk_bounds to these);
  // empty: as even as possible, earlier chunks first.
  std::vector<int64_t> layer_bounds;
  // The CPU backend: how long a rank waits on another (a collective, a pipeline receive) before
  // the run stops as a deadlock. A full-size model's micro-batch on one thread can take minutes.
  int64_t comm_timeout_s = 300;
};

struct RunReport {
  std::vector<double> losses;   // mean token loss of each step run
  std::vector<double> grad_norms;  // global gradient L2 norm of each step, before clipping
  std::vector<double> step_times_s;  // wall time of each step run (rank 0's clock)
  // CPU time of rank 0's thread in each step: without its waits, and without the time other
  // processes take from it (a contention-free view of its compute on a busy machine).
  std::vector<double> step_cpu_times_s;
  double step_time_s = 0;       // wall time per step (mean over the steps run)
  double tokens_per_s = 0;      // global_batch·seq_len / step_time_s
  std::vector<RankMemory> peak_bytes_per_rank;  // indexed by world rank
  // CUDA backend only (executor/cuda/run_cuda.hpp; empty on the CPU backend): per GPU used, the
  // high-water mark of the memory its allocator pool reserved (the tensors' peak footprint;
  // the CUDA context and cuBLAS/NCCL workspaces are not in it).
  std::vector<int64_t> device_peak_bytes;
};

// Throws std::runtime_error with the reason for plans it cannot run (e.g. cp > 1: "context
// parallelism is not supported by the CPU executor yet"), for unreadable data files, and for
// missing, mismatched or corrupt checkpoints.
RunReport run_training(const RunOptions& options);

// "" when run_training can run the plan, else the reason it would throw.
std::string unsupported_reason(const RunOptions& options);

}  // namespace shardplan::executor
