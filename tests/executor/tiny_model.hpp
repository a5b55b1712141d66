// The tiny decoder of the executor tests (hidden 64, 4 heads, 4 layers, vocab 128, seq 16,
// global batch 8) in its two variants, and RunOptions for a plan written as a strategy string.
#pragma once
#include <string>

#include "core/model_spec.hpp"
#include "core/strategy.hpp"
#include "executor/run.hpp"

namespace shardplan::executor::testing {

// Variant A: MHA, LayerNorm, GELU (ffn 256), untied head.
// Variant B (gqa_variant): 2 kv heads, RMSNorm, SwiGLU (ffn 176), tied embeddings.
inline ModelSpec tiny(bool gqa_variant = false) {
  ModelSpec m;
  m.name = gqa_variant ? "tiny-gqa" : "tiny";
  m.layers = 4;
  m.hidden = 64;
  m.heads = 4;
  m.kv_heads = gqa_variant ? 2 : 4;
  m.head_dim = 16;
  m.vocab = 128;
  m.seq_len = 16;
  m.ffn_act = gqa_variant ? "swiglu" : "gelu";
  m.ffn_hidden = gqa_variant ? 176 : 256;
  m.norm = gqa_variant ? "rmsnorm" : "layernorm";
  m.tied_embeddings = gqa_variant;
  return m;
}

// plan: "tp=2,pp=2,sp,..." (core's strategy string); global batch 8, micro-batch 1 by default.
inline RunOptions options(const ModelSpec& m, const std::string& plan, int steps = 5) {
  RunOptions o;
  o.model = m;
  Strategy base;
  base.global_batch = 8;
  base.micro_batch = 1;
  o.strategy = plan.empty() ? base : parse_strategy_string(plan, base);  // "": the base strategy
  o.steps = steps;
  o.seed = 7;
  return o;
}

}  // namespace shardplan::executor::testing
