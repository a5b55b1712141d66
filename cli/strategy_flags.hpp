// The flags shared by estimate, simulate and compare: model, cluster, GPU count, batch and one
// strategy. Resolves them into a loaded model, a sized cluster and a Strategy (exit 2 on misuse).
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "graph/model_loader.hpp"

namespace shardplan::cli {

struct ProblemFlags {
  std::string model, cluster = "dgx-h100";
  int64_t gpus = 0, global_batch = 0, seq_len = 0;
  std::string precision = "bf16", grad_reduce = "fp32";
  bool allow_tp_across_nodes = false;
};

struct StrategyFlags {
  int64_t tp = 1, pp = 1, dp = 0, cp = 1, ep = 1, vp = 1, micro_batch = 1;
  bool sp = false, tp_comm_overlap = false, no_flash = false, no_overlap_grad_reduce = false;
  bool no_async_tp_backward = false, ep_comm_overlap = false, fp8_param_gather = false;
  int zero = 0;
  std::string recompute = "none", schedule, attention_kernel = "default", zero3_impl = "fsdp";
};

void add_problem_flags(CLI::App* cmd, ProblemFlags& f);
void add_strategy_flags(CLI::App* cmd, StrategyFlags& f);

struct Problem {
  LoadedModel model;
  ClusterSpec cluster;
  int64_t gpus = 0, global_batch = 0;
  DType precision = DType::bf16;
  DType grad_reduce = DType::fp32;  // Strategy::grad_reduce
};
Problem resolve_problem(const ProblemFlags& f);
// dp defaults to GPUs / (tp*pp*cp); a given dp must match.
Strategy resolve_strategy(const StrategyFlags& f, const Problem& p);

}  // namespace shardplan::cli
