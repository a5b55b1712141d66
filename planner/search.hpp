// The search: enumerate every strategy of the space, evaluate each with the analytic Estimator
// (one per thread), prune by memory, rank by the objective with an explicit tie-break, and count
// rejections per reason. Results are identical for any thread count.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "costmodel/estimate.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

// Allowed values per dimension; an empty list means "every value the model and cluster allow".
struct SearchSpace {
  std::vector<int64_t> tp, pp, cp, ep, vp, micro_batch;
  std::vector<int> zero;
  std::vector<Recompute> recompute;
  std::vector<Schedule> schedule;
  std::vector<bool> sp, tp_comm_overlap, ep_comm_overlap;  // ep_comm_overlap: only when ep > 1
  int64_t max_micro_batch = 64;
};

enum class Objective { time, cost, memory };

struct SearchOptions {
  int64_t gpus = 0, global_batch = 0;
  DType precision = DType::bf16;
  DType grad_reduce = DType::fp32;  // Strategy::grad_reduce of every strategy searched
  bool fp8_param_gather = false;    // Strategy::fp8_param_gather wherever it applies (fp8, ZeRO >= 1)
  Objective objective = Objective::time;
  double memory_headroom = 0.1;  // keep this fraction of GPU memory free
  int64_t top_k = 10;
  int threads = 1;
  double time_limit_s = 0;       // 0: no limit
  bool flash_attention = true;
  AttentionKernel attention_kernel = AttentionKernel::gpu_default;
  bool overlap_grad_reduce = true;
  bool async_tp_backward = true;  // Megatron >= 2022 (v3); false for the 2020-21 releases
  Zero3Impl zero3_impl = Zero3Impl::fsdp;  // how the ZeRO-3 strategies issue their collectives
  bool allow_tp_across_nodes = false;
  // Also return the Pareto front's strategies (SearchResult::pareto_front), for the report.
  bool keep_pareto_strategies = false;
  std::function<void(double)> progress;  // fraction done, called from the calling thread
  // When set, only strategies it admits are estimated, as it may have adjusted them; the rest
  // count as Reason::framework (`plan --framework`: what the target framework runs, as it runs
  // it). Called from the worker threads.
  std::function<bool(Strategy&)> admit;
  // When set, an estimated strategy it refuses counts as Reason::framework too (a framework that
  // cannot run the pipeline cut the estimator chose). Called from the worker threads.
  std::function<bool(const Strategy&, const Estimate&)> accept;
};

struct Candidate {
  Strategy strategy;
  Estimate estimate;
  double score = 0;  // lower is better
  double simulated_step_s = 0;  // set when the top K are re-ranked by the simulator
};

struct SearchResult {
  std::vector<Candidate> top;              // best first
  std::array<int64_t, static_cast<size_t>(Reason::kCount)> rejected{};  // per reason
  int64_t considered = 0, feasible = 0;
  bool timed_out = false;
  double wall_s = 0;
  Candidate closest_oom;                   // smallest overflow among valid strategies
  bool has_closest_oom = false;
  std::vector<std::pair<double, double>> pareto;  // (peak memory bytes, step time) front, feasible
  // Values the space names that no strategy uses, with why ("tp=5: does not divide the 64 GPUs").
  std::vector<std::string> not_searched;
  // With keep_pareto_strategies: the same front as candidates (score = step time), memory
  // ascending; equal points resolved by the strategy's fields, so any thread count agrees.
  std::vector<Candidate> pareto_front;
};

// Total order used to rank: score, then the strategy's fields (deterministic tie-break).
bool candidate_less(const Candidate& a, const Candidate& b);

// ZeRO stages that are another stage's plan again, which the search skips: under pipeline
// parallelism ZeRO-2 runs as ZeRO-1 (grads_sharded_in_step), so with both in the space ZeRO-2 is
// skipped; with no group to shard over (dp*cp = 1, and for a model with experts an expert data
// parallel group of 1) every stage is the lowest in the space, at the same time and no less memory.
bool zero_twin(const Strategy& s, const std::vector<int>& zeros, bool has_experts);
// Sets s.zero and the switches that follow the ZeRO stage: zero3_impl (ZeRO-3 only) and
// fp8_param_gather (ZeRO >= 1), from the search's options.
void set_zero_stage(Strategy& s, int zero, const SearchOptions& o);

// Enumerates the space (all combinations, before feasibility checks).
std::vector<Strategy> enumerate_space(const OpGraph& g, const ClusterSpec& cluster, const SearchSpace& space,
                                      const SearchOptions& opts);

// The values `space` names that none of `all` (its enumeration) uses, each with the reason.
std::vector<std::string> unused_values(const OpGraph& g, const SearchSpace& space, const SearchOptions& opts,
                                       const std::vector<Strategy>& all);

SearchResult search(const OpGraph& g, const ClusterSpec& cluster, const SearchSpace& space, const SearchOptions& opts);

}  // namespace shardplan
