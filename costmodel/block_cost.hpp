// The cost of one block (a transformer layer, the embedding, the head, or an explicit block) for
// one micro-batch on one GPU under a sharding: compute per pass, exposed communication, FLOPs,
// saved activations and parameters held. Identical blocks share a cached BlockCost.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "costmodel/collectives.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

// Everything a block's per-GPU cost depends on.
struct ShardContext {
  int64_t tp = 1, cp = 1, ep = 1, micro_batch = 1, seq_len = 1;
  bool sp = false, flash = true, tp_comm_overlap = false, async_tp_backward = true;
  bool ep_comm_overlap = false;  // the EP all-to-all runs beside another micro-batch's compute
  AttentionKernel attention_kernel = AttentionKernel::gpu_default;
  Recompute recompute = Recompute::none;
  DType precision = DType::bf16;
  GroupPlacement tp_group, cp_group, ep_group;
  // The job's slowest GPU against a median one on tensor-core math (slowest_gpu_factor).
  double slowest_gpu = 1;
  bool operator==(const ShardContext& o) const {
    return tp == o.tp && cp == o.cp && ep == o.ep && micro_batch == o.micro_batch && slowest_gpu == o.slowest_gpu &&
           seq_len == o.seq_len && sp == o.sp && flash == o.flash &&
           tp_comm_overlap == o.tp_comm_overlap && async_tp_backward == o.async_tp_backward &&
           ep_comm_overlap == o.ep_comm_overlap && attention_kernel == o.attention_kernel &&
           recompute == o.recompute && precision == o.precision;
  }
};

struct BlockCost {
  double fwd_s = 0;          // forward: compute + exposed TP/CP/EP communication
  double bwd_input_s = 0;    // backward, input gradients (+ exposed communication)
  double bwd_weight_s = 0;   // backward, weight gradients
  double recompute_s = 0;    // extra forward work before the backward (recompute mode)
  double tp_comm_s = 0;      // exposed TP communication, forward + backward (+ recompute)
  double cp_comm_s = 0;      // exposed CP communication
  double ep_comm_s = 0;      // exposed EP all-to-all
  double model_flops = 0;    // per GPU, forward + backward
  double hardware_flops = 0; // including recomputation
  double saved_bytes = 0;    // kept from forward to backward under the recompute mode
  // What recompute rebuilds in the backward beyond saved_bytes (full and op: the layer's
  // activations, as without recompute); a weight pass deferred from it (ZB-H1's W) holds them.
  double rebuilt_bytes = 0;
  double transient_bytes = 0;  // largest working set while this block runs (backward)
  double dense_params = 0;   // parameters on this GPU (after TP), not expert
  double expert_params = 0;  // routed-expert parameters on this GPU (after EP)
  double fp8_weight_params = 0;  // of those, the weights of GEMMs run in FP8 (dense and expert)
  double boundary_bytes = 0; // activation sent to the next pipeline stage
  // Weight tensors on this GPU that DeepSpeed's ZeRO-3 gathers one by one (per_module_gathers):
  // each linear layer (QKV and a gated fc1 fused, as Megatron-DeepSpeed's GPT and Llama layers have
  // them; a Hugging Face model's separate q, k, v, gate and up projections would be more), the
  // embedding table, each local expert's linears; tensors under its persistence threshold stay
  // whole and do not count.
  double module_tensors = 0;
  double max_module_params = 0;  // the largest of those tensors (elements on this GPU)
};

// DeepSpeed's stage3_param_persistence_threshold default: parameters of fewer elements are not
// partitioned (zero/config.py, 1e5 since v0.3.13), so biases and norm weights are never gathered.
inline constexpr double kZero3PersistenceThreshold = 1e5;
// The gathered tensors among `count` equal weights of `params` elements in all.
inline double module_tensors(double params, double count) {
  return count > 0 && params / count >= kZero3PersistenceThreshold ? count : 0;
}
// Counts `count` equal weights of `params` elements into `bc`'s gathered tensors.
inline void add_module_tensors(BlockCost& bc, double params, double count) {
  const double n = module_tensors(params, count);
  bc.module_tensors += n;
  if (n > 0) bc.max_module_params = std::max(bc.max_module_params, params / count);
}

BlockCost price_block(const OpGraph& graph, const Block& block, const GpuSpec& gpu, const ShardContext& ctx);

// The context of a strategy's blocks at sequence length `seq_len`, its TP, CP and EP groups placed
// on `cluster` (TP innermost, CP next); the one place a Strategy becomes a ShardContext.
ShardContext shard_context(const Strategy& s, const ClusterSpec& cluster, int64_t seq_len);

}  // namespace shardplan
