// Builds the OpGraph of a decoder-only transformer from its spec: embedding block, one block per
// layer (attention + dense FFN or MoE), head block (final norm, LM head, cross-entropy).
#pragma once
#include "core/model_spec.hpp"
#include "graph/op_graph.hpp"

namespace shardplan {

// GPT lineage (ModelSpec::learned_positions): biases, dropout and learned position embeddings, as
// in Megatron-LM's GPT; otherwise Llama lineage (no biases, no dropout, rotary positions).
OpGraph build_transformer_graph(const ModelSpec& spec);

}  // namespace shardplan
