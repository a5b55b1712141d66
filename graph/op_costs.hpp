// Per-token FLOPs, bytes, params and saved bytes of an op from its kind and dims
// (docs/op-graph.md), shared by the op-graph loader and the transformer builder.
#pragma once
#include <cstdint>

#include "graph/op_graph.hpp"

namespace shardplan {

// Sets params, fwd/bwd FLOPs, bytes and saved bytes per token, and which of them TP replicates,
// from `op`'s kind, dims and split at sequence length `seq_len` (attention's keys per query).
void derive_op_costs(Op& op, int64_t seq_len);

}  // namespace shardplan
