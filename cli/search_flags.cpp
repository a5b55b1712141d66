// Parsing the search flags: comma-separated lists into SearchSpace, the rest into SearchOptions.
#include "cli/search_flags.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <thread>

#include "cli/rerank.hpp"
#include "cli/validators.hpp"
#include "core/error.hpp"

namespace shardplan::cli {

namespace {
// "a,b,c" into its items; an empty item ("4,,8", a trailing comma) is an error.
std::vector<std::string> split_list(const std::string& flag, const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::stringstream ss(s + ",");
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) throw UsageError("--" + flag + " " + s + ": empty item in the comma-separated list");
    out.push_back(item);
  }
  return out;
}

// Integers of at least `least` (1 for sizes, 0 for ZeRO stages).
std::vector<int64_t> int_list(const std::string& flag, const std::string& s, int64_t least = 1) {
  std::vector<int64_t> out;
  for (const auto& x : split_list(flag, s)) {
    try {
      size_t pos = 0;
      long long v = std::stoll(x, &pos);
      if (pos != x.size() || v < least) throw std::invalid_argument(x);
      out.push_back(v);
    } catch (const std::exception&) {
      throw UsageError("--" + flag + " " + s + ": expected a comma-separated list of " +
                       (least > 0 ? "positive integers" : "non-negative integers"));
    }
  }
  return out;
}

std::vector<bool> on_off_list(const std::string& flag, const std::string& s) {
  std::vector<bool> out;
  for (const auto& r : split_list(flag, s)) {
    if (r != "on" && r != "off")
      throw UsageError("--" + flag + " " + r + ": expected on, off or on,off");
    out.push_back(r == "on");
  }
  return out;
}
}  // namespace

void add_search_flags(CLI::App* cmd, SearchFlags& f) {
  cmd->add_option("--tp", f.tp, "tensor parallel sizes to consider (list)");
  cmd->add_option("--pp", f.pp, "pipeline parallel sizes (list)");
  cmd->add_option("--cp", f.cp, "context parallel sizes (list)");
  cmd->add_option("--ep", f.ep, "expert parallel sizes (list)");
  cmd->add_option("--vp", f.vp, "virtual pipeline chunks (list)");
  cmd->add_option("--micro-batch", f.micro_batch, "micro-batch sizes (list)");
  cmd->add_option("--zero", f.zero, "ZeRO stages (list)");
  cmd->add_option("--recompute", f.recompute, "recompute modes (list)");
  cmd->add_option("--schedule", f.schedule, "schedules (list)");
  cmd->add_option("--sp", f.sp, "sequence parallel: on, off or on,off");
  cmd->add_option("--tp-comm-overlap", f.tp_comm_overlap, "on, off or on,off");
  cmd->add_option("--ep-comm-overlap", f.ep_comm_overlap, "expert all-to-all overlap (ep > 1): on, off or on,off");
  cmd->add_option("--objective", f.objective, "time, cost or memory")
      ->check(CLI::IsMember({"time", "cost", "memory"}));
  cmd->add_option("--memory-headroom", f.headroom, "fraction of GPU memory kept free")
      ->check(finite_in(0.0, 0.9, "a fraction"));
  cmd->add_option("--top", f.top, "plans to show (the simulator re-ranks the estimate's best max(K, 10), so any K up to 10 names the same best plan)")->check(CLI::Range(int64_t{1}, int64_t{1000}));
  cmd->add_option("--threads", f.threads, "worker threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--time-limit", f.time_limit, "stop the search after this many seconds (0: no limit)")
      ->check(finite_in(0.0, 1e9, "seconds"));
  cmd->add_flag("--no-flash-attention", f.no_flash, "unfused attention");
  cmd->add_flag("--fp8-param-gather", f.fp8_param_gather,
                "FP8 weights all-gathered in FP8 wherever ZeRO >= 1 (with --precision fp8)");
  cmd->add_option("--attention-kernel", f.attention_kernel,
                  "fused-attention kernel: default (the GPU preset's), fa2, cudnn or fa3")
      ->check(CLI::IsMember(attention_kernel_names()));
  cmd->add_flag("--no-overlap-grad-reduce", f.no_overlap_grad_reduce,
                "DP reduction after the backward");
  cmd->add_flag("--no-async-tp-backward", f.no_async_tp_backward,
                "TP input-gradient reduction not overlapped with the weight-gradient GEMM (Megatron before 2022)");
  cmd->add_option("--zero3-impl", f.zero3_impl,
                  "how the ZeRO-3 plans issue their collectives: fsdp, deepspeed or deepspeed-2021 (see estimate "
                  "--help); deepspeed ones run without pipeline parallelism")
      ->check(CLI::IsMember(zero3_impl_names()));
}

SearchSpace search_space_from(const SearchFlags& f) {
  SearchSpace sp;
  sp.tp = int_list("tp", f.tp);
  sp.pp = int_list("pp", f.pp);
  sp.cp = int_list("cp", f.cp);
  sp.ep = int_list("ep", f.ep);
  sp.vp = int_list("vp", f.vp);
  sp.micro_batch = int_list("micro-batch", f.micro_batch);
  // Sizes named on the command line are searched whatever the default cap.
  for (int64_t m : sp.micro_batch) sp.max_micro_batch = std::max(sp.max_micro_batch, m);
  for (int64_t z : int_list("zero", f.zero, 0)) {
    if (z > 3) throw UsageError("--zero: expected values in 0..3");
    sp.zero.push_back(static_cast<int>(z));
  }
  for (const auto& r : split_list("recompute", f.recompute)) {
    Recompute x;
    if (!parse_recompute(r, x))
      throw UsageError("--recompute " + r + ": expected " + kRecomputeChoices);
    sp.recompute.push_back(x);
  }
  for (const auto& r : split_list("schedule", f.schedule)) {
    Schedule x;
    if (!parse_schedule(r, x))
      throw UsageError("--schedule " + r + ": expected gpipe, 1f1b, interleaved or zb");
    sp.schedule.push_back(x);
  }
  sp.sp = on_off_list("sp", f.sp);
  sp.tp_comm_overlap = on_off_list("tp-comm-overlap", f.tp_comm_overlap);
  sp.ep_comm_overlap = on_off_list("ep-comm-overlap", f.ep_comm_overlap);
  return sp;
}

SearchOptions search_options_from(const SearchFlags& f, int64_t gpus, int64_t global_batch,
                                  DType precision, bool allow_tp_across_nodes) {
  SearchOptions so;
  so.gpus = gpus;
  so.global_batch = global_batch;
  so.precision = precision;
  so.objective = f.objective == "memory" ? Objective::memory
                 : f.objective == "cost" ? Objective::cost
                                         : Objective::time;
  so.memory_headroom = f.headroom;
  so.top_k = std::max(f.top, kSimulatedPool);  // the simulator re-ranks this pool; --top are shown
  so.threads = f.threads > 0 ? f.threads
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  so.time_limit_s = f.time_limit;
  so.flash_attention = !f.no_flash;
  so.fp8_param_gather = f.fp8_param_gather;
  parse_attention_kernel(f.attention_kernel, so.attention_kernel);
  so.overlap_grad_reduce = !f.no_overlap_grad_reduce;
  so.async_tp_backward = !f.no_async_tp_backward;
  parse_zero3_impl(f.zero3_impl, so.zero3_impl);
  so.allow_tp_across_nodes = allow_tp_across_nodes;
  return so;
}

}  // namespace shardplan::cli
