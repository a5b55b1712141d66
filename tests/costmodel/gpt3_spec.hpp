// GPT-3 175B's shape (Narayanan Table 1 / Korthikanti Table 3): h = 12288, a = 96 heads of 128,
// 4h MLP, s = 2048, V = 51200, tied embeddings; GPT lineage (layernorm, gelu, dropout). Tests take
// as many layers as they need.
#pragma once
#include <cstdint>
#include <string>

#include "core/model_spec.hpp"

namespace shardplan::testing {

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

}  // namespace shardplan::testing
