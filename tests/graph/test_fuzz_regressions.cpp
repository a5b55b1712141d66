// Model inputs (HF config.json, op graphs) that once escaped as something other than an
// InputError (exit status 2), or were accepted though invalid: found while fuzzing (tests/fuzz).
#include <doctest/doctest.h>

#include "core/error.hpp"
#include "graph/model_loader.hpp"

using namespace shardplan;

namespace {
// A minimal DeepSeek-V3 config.json with `extra` fields appended (the keys it must carry, where
// `extra` does not give them).
std::string deepseek(const std::string& extra, int top_k = 2) {
  std::string required;
  for (const char* kv : {R"("n_shared_experts":0)", R"("first_k_dense_replace":0)", R"("q_lora_rank":null)"})
    if (extra.find(std::string(kv).substr(0, std::string(kv).find(':'))) == std::string::npos) required += std::string(",") + kv;
  return R"({"model_type":"deepseek_v3","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,
    "intermediate_size":128,"vocab_size":100,"max_position_embeddings":16,"n_routed_experts":4,
    "num_experts_per_tok":)" + std::to_string(top_k) + R"(,"moe_intermediate_size":32,"kv_lora_rank":16,"qk_nope_head_dim":8,
    "qk_rope_head_dim":8,"v_head_dim":8)" + required + extra + "}";
}
}  // namespace

TEST_CASE("fuzz: negative or inconsistent MoE fields of an HF config are input errors") {
  CHECK(load_model_text(deepseek(""), "c.json").graph.blocks.size() == 4);
  // n_shared_experts, first_k_dense_replace and q_lora_rank were read as any integer and a
  // negative one silently taken as 0 (the spec format rejects them).
  CHECK_THROWS_AS(load_model_text(deepseek(R"(,"n_shared_experts":-1)"), "c.json"), InputError);
  CHECK_THROWS_AS(load_model_text(deepseek(R"(,"first_k_dense_replace":-3)"), "c.json"), InputError);
  CHECK_THROWS_AS(load_model_text(deepseek(R"(,"q_lora_rank":-8)"), "c.json"), InputError);
  // top_k > experts was checked for specs only (reported at the config's own key).
  CHECK_THROWS_WITH_AS(load_model_text(deepseek("", 5), "c.json"),
                       doctest::Contains("/num_experts_per_tok"), InputError);
}

TEST_CASE("fuzz: a GPT-2 config with a huge n_embd is an input error, not an overflow") {
  // n_inner defaults to 4 * n_embd, formed before the bound check (UBSan: signed overflow).
  CHECK_THROWS_WITH_AS(load_model_text(R"({"model_type":"gpt2","n_layer":1,"n_embd":4611686018427387904,"n_head":1,
      "vocab_size":10,"n_positions":8})",
                                       "c.json"),
                       doctest::Contains("/n_embd"), InputError);
}

TEST_CASE("fuzz: a model name too long for a file name is an input error") {
  // Same ENAMETOOLONG as the cluster loader's GPU names (std::filesystem::exists threw).
  CHECK_THROWS_WITH_AS(load_model(std::string(5000, 'm')), doctest::Contains("no such file or zoo model"), InputError);
}

TEST_CASE("fuzz: a model beyond 1e15 parameters is an input error, not negative byte counts") {
  // hidden 2^27 is within the per-field bound (2^30) but its 18 B per parameter overflowed int64
  // in the estimate's JSON (a CLI review).
  CHECK_THROWS_WITH_AS(load_model_text(R"({"layers":32,"hidden":134217728,"heads":1024,"vocab":1000,"seq_len":16})", "m.json"),
                       doctest::Contains("expected at most 1e+15"), InputError);
}
