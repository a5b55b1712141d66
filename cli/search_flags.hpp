// The search flags shared by `plan` and `report`:
// any dimension fixed or given as a list ("--tp 4,8 --schedule 1f1b,interleaved"), objective,
// headroom, threads, time limit. Resolved into SearchSpace and SearchOptions (exit 2 on misuse).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "cli/strategy_flags.hpp"
#include "planner/search.hpp"

namespace shardplan::cli {

struct SearchFlags {
  std::string tp, pp, cp, ep, vp, micro_batch, zero, recompute, schedule, sp, tp_comm_overlap, ep_comm_overlap;
  std::string objective = "time", attention_kernel = "default", zero3_impl = "fsdp";
  double headroom = 0.1, time_limit = 0;
  int64_t top = 10;
  int threads = 0;  // 0: all cores
  bool no_flash = false, no_overlap_grad_reduce = false, no_async_tp_backward = false;
  bool fp8_param_gather = false;
};

void add_search_flags(CLI::App* cmd, SearchFlags& f);
SearchSpace search_space_from(const SearchFlags& f);
// gpus, global batch and precision come from the problem; the rest from the flags.
SearchOptions search_options_from(const SearchFlags& f, int64_t gpus, int64_t global_batch,
                                  DType precision, bool allow_tp_across_nodes);

}  // namespace shardplan::cli
