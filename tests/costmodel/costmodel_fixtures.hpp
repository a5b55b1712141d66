// Shared by the cost-model tests: GPT-3 175B's shape, and a one-GPU sharding context.
#pragma once
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "core/hardware.hpp"
#include "core/model_spec.hpp"
#include "costmodel/block_cost.hpp"
#include "costmodel/collectives.hpp"
#include "graph/op_graph.hpp"

namespace shardplan::testing {

// GPT-3 175B (Narayanan Table 1 / Korthikanti Table 3): h = 12288, a = 96 heads of 128, 4h MLP,
// s = 2048, V = 51200, tied embeddings; GPT lineage (layernorm, gelu, dropout). Tests take as many
// layers as they need.
inline ModelSpec gpt3_spec(int64_t layers, std::string name = "gpt3-175b") {
  ModelSpec m;
  m.name = std::move(name);
  m.layers = layers;
  m.hidden = 12288;
  m.heads = 96;
  m.kv_heads = 96;
  m.head_dim = 128;
  m.ffn_hidden = 4 * 12288;
  m.vocab = 51200;
  m.seq_len = 2048;
  m.tied_embeddings = true;
  return m;
}

// Block `block` of `g` cut down to its one op named `op`, to price that op alone.
inline Block single_op_block(const OpGraph& g, size_t block, const std::string& op) {
  Block only = g.blocks[block];
  only.ops.clear();
  for (int64_t v : g.blocks[block].ops)
    if (g.op(v).name == op) only.ops.push_back(v);
  REQUIRE(only.ops.size() == 1);
  return only;
}

// No parallelism: every group a single GPU of `cluster`, at the graph's sequence length.
inline ShardContext single_gpu_context(const ClusterSpec& cluster, const OpGraph& g) {
  ShardContext c;
  c.seq_len = g.seq_len;
  c.tp_group = place_group(cluster, 1, 1);
  c.cp_group = place_group(cluster, 1, 1);
  c.ep_group = place_group(cluster, 1, 1);
  return c;
}

}  // namespace shardplan::testing
