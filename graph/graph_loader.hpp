// The explicit op-graph format (docs/op-graph.md): for models that are not a plain decoder stack.
#pragma once
#include "core/json_reader.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

// Ops with name, kind, dims, inputs, block, split; checks names are unique, inputs exist, kinds
// and splits are known, dims fit the kind, and the graph is acyclic.
OpGraph op_graph_from_json(const JsonObject& obj, int64_t seq_len_override);

}  // namespace shardplan
