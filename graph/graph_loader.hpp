// The explicit op-graph format (docs/op-graph.md): for models that are not a plain decoder stack.
#pragma once
#include "core/json_reader.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

// Ops with name, kind, dims, inputs, block, split; checks names are unique, inputs exist, kinds
// and splits are known, dims fit the kind, and the graph is acyclic.
OpGraph op_graph_from_json(const JsonObject& obj, int64_t seq_len_override);

// Per-token FLOPs, bytes, params and saved bytes of an op from its kind and dims at `seq_len`.
void derive_op_costs(Op& op, int64_t seq_len);

}  // namespace shardplan
