// estimate(graph, cluster, strategy) -> Estimate: step time, FLOPs and per-GPU memory of one
// strategy. Estimator caches per-block costs by sharded shape so a planner can evaluate millions
// of strategies of one model quickly. Infeasible is a value (a reason code), not an exception.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "costmodel/block_cost.hpp"
#include "costmodel/stage_costs.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

struct ChunkTotals;     // costmodel/pipeline.hpp
struct PipelineInputs;  // costmodel/pipeline.hpp

enum class Reason {
  ok = 0,
  gpu_count,         // dp*tp*pp*cp != GPUs
  heads_tp,          // heads, kv_heads or a TP-split matrix width (ffn_hidden) not divisible by tp
  batch,             // global batch not divisible by dp * micro_batch
  layers_pp,         // fewer blocks than pipeline chunks, or uneven split not possible
  schedule,          // schedule/vp combination invalid (interleaved needs vp>1, m % pp)
  experts_ep,        // experts not divisible by ep, or ep does not divide dp*cp*tp
  seq_cp,            // sequence not divisible by cp (2*cp for causal balance), or by tp under SP
  tp_across_nodes,   // tp larger than the NVLink domain
  precision,         // the GPU has no such math (fp8 on A100, bf16 on V100)
  options,           // an option that needs another (sp needs tp > 1, tp-comm-overlap needs sp)
  out_of_memory,     // fits == false (still estimated)
  framework,         // (planner) not run by the framework of `plan --framework`; never estimated
  kCount
};
const char* reason_name(Reason r);

// Per-GPU memory at the peak. params: weights (ZeRO-3: the shard plus the gathered blocks);
// grads (ZeRO-2/3: the shard plus one block's full gradient); activations: tensors kept from
// forward for backward, of every micro-batch in flight; working: the largest transient set of one
// block's backward (a recomputed layer, attention scores, logits); buffers: pipeline send/recv.
struct StageMemory {
  double params_bytes = 0, grads_bytes = 0, optimizer_bytes = 0, activations_bytes = 0;
  double working_bytes = 0, buffers_bytes = 0, runtime_bytes = 0, total_bytes = 0;
  double inflight_micro_batches = 0;
};

struct Breakdown {
  double compute_s = 0, recompute_s = 0, tp_comm_s = 0, cp_comm_s = 0, ep_comm_s = 0;
  double pp_comm_s = 0, pp_bubble_s = 0, dp_comm_s = 0, optimizer_s = 0;
};

struct Estimate {
  Reason reason = Reason::ok;    // ok or out_of_memory: estimated; otherwise invalid
  std::string detail;            // human reason for an invalid strategy or the overflow
  double step_time_s = 0, tokens_per_s = 0;
  double model_tflops_per_gpu = 0, hardware_tflops_per_gpu = 0, mfu = 0, hfu = 0;
  bool fits = false;
  double peak_memory_bytes = 0;
  int64_t peak_stage = 0;
  double overflow_bytes = 0;     // of the worst stage, when it does not fit
  std::vector<StageMemory> stages;
  std::vector<int64_t> chunk_bounds;  // pipeline chunk c holds blocks [b[c], b[c+1]); c = v*pp + stage
  Breakdown breakdown;
  double bubble_fraction = 0;    // pp_bubble / step
  double exposed_comm_fraction = 0;
  bool valid() const { return reason == Reason::ok || reason == Reason::out_of_memory; }
};

struct EstimatorOptions {
  bool allow_tp_across_nodes = false;
  bool explain = true;  // fill Estimate::detail (the search turns it off for speed)
  // The memory a pipeline partition must fit in (0: the GPU's). When the time-balanced cut of a
  // pipeline does not fit, the estimator re-cuts it under each stage's limit (vp = 1).
  double memory_capacity_bytes = 0;
};

class Estimator {
 public:
  Estimator(const OpGraph& graph, const ClusterSpec& cluster, EstimatorOptions opts = {});
  ~Estimator();
  Estimator(Estimator&&) noexcept;
  // Checks the strategy against the model and cluster; Reason::ok when it can run.
  Reason check(const Strategy& s, std::string* detail = nullptr) const;
  Estimate estimate(const Strategy& s);
  // The estimate for a given pipeline cut (a plan file's partition, as Estimate::chunk_bounds);
  // a cut that does not fit the strategy is invalid (Reason::layers_pp).
  Estimate estimate(const Strategy& s, const std::vector<int64_t>& bounds);
  // The per-chunk task costs the simulator schedules (valid strategies only), for the cut the
  // estimate chooses or for a given one.
  StageCosts stage_costs(const Strategy& s);
  StageCosts stage_costs(const Strategy& s, const std::vector<int64_t>& bounds);
  const OpGraph& graph() const { return graph_; }
  const ClusterSpec& cluster() const { return cluster_; }
  int64_t cache_size() const { return static_cast<int64_t>(cache_.size()); }

 private:
  struct CacheEntry {
    ShardContext ctx;
    std::vector<BlockCost> costs;  // per block type
    std::unordered_map<int64_t, std::vector<int64_t>> partitions;  // chunks -> balanced bounds
    std::unordered_map<uint64_t, std::vector<int64_t>> memory_partitions;  // see memory_partition
  };
  struct Prepared;
  void prepare(const Strategy& s, Prepared& p);
  // The cost of every block type under `ctx` (one cache lookup per strategy).
  const std::vector<BlockCost>& type_costs(const ShardContext& ctx);
  const std::vector<int64_t>& partition(const Strategy& s, CacheEntry& e);
  // The fastest cut of a vp = 1 pipeline whose every stage fits in memory (empty: none does).
  const std::vector<int64_t>& memory_partition(const Strategy& s, CacheEntry& e,
                                               const std::vector<ChunkTotals>& chunks);
  void sum_chunks(const Strategy& s, const CacheEntry& e, Prepared& p) const;
  Estimate assemble(const Strategy& s, const Prepared& p) const;

  const OpGraph& graph_;
  ClusterSpec cluster_;
  EstimatorOptions opts_;
  std::vector<int64_t> type_of_block_;   // block -> dense type index
  std::vector<size_t> type_rep_;         // type -> representative block
  int64_t heads_ = 0, kv_heads_ = 0, experts_ = 0;
  int64_t tp_width_ = 0;  // gcd of the widths TP splits (columns' outputs, rows' inputs)
  CacheEntry& entry(const ShardContext& ctx);
  std::vector<std::vector<int64_t>> type_prefix_;  // [type][i]: blocks of that type among [0, i)
  std::unordered_map<uint64_t, CacheEntry> cache_;  // ctx hash -> costs (ctx checked on hit)
  // Per-estimate scratch, reused so that an estimate allocates only its result (one Estimator per
  // thread, as the search uses it).
  std::unique_ptr<Prepared> scratch_;
  std::unique_ptr<PipelineInputs> scratch_inputs_;
};

// One-shot convenience (no reuse of the cache).
Estimate estimate(const OpGraph& graph, const ClusterSpec& cluster, const Strategy& s);

}  // namespace shardplan
