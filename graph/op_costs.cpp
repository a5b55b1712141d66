// Per-token costs of an op from its kind and dims: one spelling for the op-graph loader and the
// transformer builder (which adds only what dims cannot say: a matmul's bias).
#include "graph/op_costs.hpp"

#include "core/model_spec.hpp"

namespace shardplan {

void derive_op_costs(Op& o, int64_t seq) {
  const double act = 2;
  auto d = [&](size_t i) { return double(o.dims[i]); };
  switch (o.kind) {
    case OpKind::embedding:
      o.params = d(0) * d(1);
      o.bytes_per_token = act * d(1);
      break;
    case OpKind::norm:
      o.params = 2 * d(0);
      o.bytes_per_token = act * 2 * d(0);
      o.saved_bytes_per_token = act * d(0);
      o.tp_replicated = o.saved_replicated = o.split == Split::none;
      break;
    case OpKind::matmul:
      o.params = d(0) * d(1);
      o.fwd_flops_per_token = 2 * d(0) * d(1);
      o.bwd_flops_per_token = 4 * d(0) * d(1);
      o.bytes_per_token = act * (d(0) + d(1));
      o.saved_bytes_per_token = act * d(1);
      o.saved_replicated = o.split == Split::columns || o.split == Split::none || o.split == Split::vocab;
      o.tp_replicated = o.split == Split::none;
      break;
    case OpKind::attention:
      o.fwd_flops_per_token =
          2.0 * attention_keys(double(seq), o.attention_window()) * d(0) * (d(2) + d(3));
      o.bwd_flops_per_token = 2 * o.fwd_flops_per_token;
      o.bytes_per_token = act * (d(0) * d(2) + d(1) * (d(2) + d(3)) + d(0) * d(3));
      o.saved_bytes_per_token = act * (d(0) * d(2) + d(1) * (d(2) + d(3)));
      break;
    case OpKind::elementwise:
      o.bytes_per_token = act * 2 * d(0);
      o.saved_bytes_per_token = act * d(0);
      o.tp_replicated = o.saved_replicated = o.split == Split::none;
      break;
    case OpKind::router:
      o.params = d(0) * d(1);
      o.fwd_flops_per_token = 2 * d(0) * d(1);
      o.bwd_flops_per_token = 4 * d(0) * d(1);
      o.bytes_per_token = act * (d(0) + d(1));
      o.saved_bytes_per_token = 4 * d(0);
      break;
    case OpKind::expert_matmul:
      o.params = d(0) * d(1) * d(2);
      o.token_factor = d(3);
      o.fwd_flops_per_token = 2 * d(0) * d(1) * d(3);
      o.bwd_flops_per_token = 4 * d(0) * d(1) * d(3);
      o.bytes_per_token = act * (d(0) + d(1)) * d(3);
      o.saved_bytes_per_token = act * d(1) * d(3);
      break;
    case OpKind::loss:
      o.bytes_per_token = 8 * d(0);
      o.saved_bytes_per_token = 4 * d(0);
      break;
  }
}

}  // namespace shardplan
