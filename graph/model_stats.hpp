// What `inspect` reports: parameters (total and active), per-block totals, training FLOPs per
// token, and the bytes of weights, gradients and Adam states.
#pragma once
#include <string>
#include <vector>

#include "graph/op_graph.hpp"

namespace shardplan {

struct BlockStats {
  std::string name, type;
  double params = 0, active_params = 0;
  double fwd_flops_per_token = 0;
  double saved_bytes_per_token = 0;  // 16-bit activations kept for backward (fused attention)
};

struct ModelStats {
  double params = 0;
  double active_params = 0;             // per token (MoE: top_k + shared experts)
  double train_flops_per_token = 0;     // forward + backward, incl. attention scores
  double train_flops_per_token_no_attn = 0;
  double weight_bytes = 0;              // 16-bit weights
  double grad_bytes = 0;                // fp32 gradients (Megatron's main_grad)
  double adam_bytes = 0;                // fp32 master + m + v
  std::vector<BlockStats> blocks;
};

ModelStats model_stats(const OpGraph& g);

}  // namespace shardplan
