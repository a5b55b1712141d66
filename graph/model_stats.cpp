// Sums over ops; MoE active parameters count top_k of the routed experts.
#include "graph/model_stats.hpp"

namespace shardplan {

ModelStats model_stats(const OpGraph& g) {
  ModelStats s;
  for (const auto& b : g.blocks) {
    BlockStats bs{b.name, b.type, 0, 0, 0, 0};
    for (int64_t v : b.ops) {
      const Op& o = g.op(v);
      bs.params += o.params;
      double active = o.params;
      if (o.kind == OpKind::expert_matmul) active = o.params * double(o.dims[3]) / double(o.dims[2]);
      bs.active_params += active;
      bs.fwd_flops_per_token += o.fwd_flops_per_token;
      bs.saved_bytes_per_token += o.saved_bytes_per_token;
      s.train_flops_per_token += o.fwd_flops_per_token + o.bwd_flops_per_token;
      if (o.kind != OpKind::attention)
        s.train_flops_per_token_no_attn += o.fwd_flops_per_token + o.bwd_flops_per_token;
    }
    s.params += bs.params;
    s.active_params += bs.active_params;
    s.blocks.push_back(bs);
  }
  s.weight_bytes = 2 * s.params;
  s.grad_bytes = 4 * s.params;
  s.adam_bytes = 12 * s.params;
  return s;
}

}  // namespace shardplan
