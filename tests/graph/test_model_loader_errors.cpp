// Model inputs (spec, HF config.json, op graph) with errors the loader must place: at the key the
// user wrote (an HF config's own names, the field a derived value came from), a duplicate key, a
// directory given as the model file.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "core/error.hpp"
#include "core/model_spec.hpp"
#include "graph/model_loader.hpp"

using namespace shardplan;

namespace {
std::string error_of(const std::string& text, int64_t seq = 0) {
  try {
    load_model_text(text, "c.json", seq);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// A minimal config of `type` with `extra` fields appended.
std::string hf(const std::string& type, const std::string& extra,
               const std::string& vocab = "100") {
  // The keys transformers defaults differently from shardplan must be written out.
  std::string required;
  if (type != "llama" && type != "phi3" && extra.find("num_key_value_heads") == std::string::npos)
    required += R"(,"num_key_value_heads":4)";
  if (type == "mistral" && extra.find("sliding_window") == std::string::npos) required += R"(,"sliding_window":null)";
  if ((type == "mixtral" || type == "gemma3_text" || type == "gpt_oss") && extra.find("rope_theta") == std::string::npos)
    required += R"(,"rope_theta":1000000)";
  return R"({"model_type":")" + type +
         R"(","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,
    "intermediate_size":128,"vocab_size":)" +
         vocab + R"(,"max_position_embeddings":16)" + required + extra + "}";
}
}  // namespace

TEST_CASE("model errors: an HF config's error names its own key, not the spec's") {
  CHECK(error_of(hf("llama", R"(,"num_key_value_heads":3)")) ==
        "c.json: at /num_key_value_heads: expected num_key_value_heads (3) to divide "
        "num_attention_heads (4)");
  CHECK(error_of(hf("mixtral", R"(,"num_local_experts":4,"num_experts_per_tok":5)")) ==
        "c.json: at /num_experts_per_tok: expected num_experts_per_tok <= num_local_experts (4), "
        "found 5");
  CHECK(error_of(hf("llama", "", "2147483648")) ==
        "c.json: at /vocab_size: expected at most 1073741824, found 2147483648");
  // GPT-2's n_inner defaults to 4 * n_embd: too wide a default is n_embd's fault, and says so.
  CHECK(error_of(R"({"model_type":"gpt2","n_layer":1,"n_embd":1073741824,"n_head":1,"vocab_size":10,
      "n_positions":8})") ==
        "c.json: at /n_embd: ffn_hidden = 4 * n_embd, as n_inner is absent: expected at most "
        "1073741824, found 4294967296");
}

TEST_CASE("model errors: a derived spec field is reported at the field it came from") {
  CHECK_THROWS_WITH_AS(
      model_spec_from_json_text(
          R"({"layers":1,"hidden":1073741824,"heads":1,"vocab":1,"seq_len":1})", "m.json"),
      "m.json: at /hidden: ffn_hidden = 4 * hidden, as ffn_hidden is absent: expected at most "
      "1073741824, "
      "found 4294967296",
      InputError);
  // Given, ffn_hidden is its own field.
  CHECK_THROWS_WITH_AS(
      model_spec_from_json_text(
          R"({"layers":1,"hidden":64,"heads":1,"ffn_hidden":2147483648,"vocab":1,"seq_len":1})",
          "m.json"),
      doctest::Contains("m.json: at /ffn_hidden: expected at most"), InputError);
}

TEST_CASE("model errors: duplicate keys in an HF config or an op graph") {
  CHECK(error_of(hf("llama", R"(,"hidden_size":128)")) ==
        "c.json: at /: duplicate key \"hidden_size\": expected each key once in an object");
  CHECK(error_of(R"({"name":"g","seq_len":16,"hidden":8,"ops":[
      {"name":"a","kind":"norm","dims":[8],"block":"x"},
      {"name":"b","kind":"norm","dims":[8],"inputs":["a"],"block":"x","kind":"gemm"}]})")
            .find("c.json: at /ops/1: duplicate key \"kind\"") == 0);
}

TEST_CASE("model errors: a directory given as the model file") {
  const std::string dir = std::string(SHARDPLAN_SOURCE_DIR) + "/models";
  CHECK_THROWS_WITH_AS(load_model(dir),
                       (dir + ": at /: is a directory: expected a JSON file").c_str(), InputError);
}

TEST_CASE("sliding windows: Mistral's is read, Qwen's use_sliding_window refused, bad values placed") {
  const LoadedModel mistral = load_model_text(hf("mistral", R"(,"sliding_window":8)"), "c.json");
  REQUIRE(mistral.spec);
  CHECK(mistral.spec->attention.window == 8);
  const LoadedModel none = load_model_text(hf("mistral", R"(,"sliding_window":null)"), "c.json");
  CHECK(none.spec->attention.window == 0);
  const LoadedModel phi3 = load_model_text(hf("phi3", R"(,"sliding_window":2047)"), "c.json");
  CHECK(phi3.spec->attention.window == 2047);
  // Qwen2's configs carry a window they do not use unless use_sliding_window is set.
  CHECK(load_model_text(hf("qwen2", R"(,"sliding_window":8,"use_sliding_window":false)"), "c.json")
            .spec->attention.window == 0);
  CHECK(error_of(hf("qwen2", R"(,"sliding_window":8,"use_sliding_window":true)")).find(
            "c.json: at /use_sliding_window: expected false") == 0);
  CHECK(error_of(hf("mistral", R"(,"sliding_window":-4)")).find("c.json: at /sliding_window: expected a positive integer") == 0);
  // An op graph's attention takes a fifth dim, the window; six are an error.
  const std::string op = R"({"format":"shardplan.graph/1","seq_len":64,"hidden":64,"ops":[
      {"name":"a","kind":"attention","dims":[4,4,16,16,DIMS],"block":"x"}]})";
  auto with = [&](const std::string& d) { return std::string(op).replace(op.find("DIMS"), 4, d); };
  const LoadedModel g = load_model_text(with("8"), "g.json");
  // keys at seq 64, window 8: (8*9 + 2*56*8) / 65 = 968/65 per query; 2 * keys * 4 heads * 32.
  CHECK(g.graph.op(0).fwd_flops_per_token == testing::rel(2.0 * 968.0 / 65.0 * 4 * 32));
  CHECK(error_of(with("8,9")).find("c.json: at /ops/0/dims: expected 4 positive integers") == 0);
}

TEST_CASE("model errors: an HF config must write out the keys transformers defaults differently") {
  // MistralConfig defaults 8 key/value heads and a 4096 window; Gemma 2 a head_dim of 256;
  // DeepSeek-V3 a q_lora_rank of 1536, one shared expert, three dense layers. Taking
  // num_attention_heads, no window, hidden / heads or 0 instead would be a silently wrong model.
  const std::string base = R"({"model_type":"mistral","num_hidden_layers":2,"hidden_size":64,
    "num_attention_heads":4,"intermediate_size":128,"vocab_size":100,"max_position_embeddings":16)";
  CHECK(error_of(base + R"(,"sliding_window":null})").find("c.json: at /num_key_value_heads: expected") == 0);
  CHECK(error_of(base + R"(,"num_key_value_heads":4})").find("c.json: at /sliding_window: expected") == 0);
  CHECK(error_of(hf("gemma2", "")).find("c.json: at /head_dim: expected") == 0);
  CHECK(error_of(R"({"model_type":"deepseek_v3","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,
    "intermediate_size":128,"vocab_size":100,"max_position_embeddings":16,"n_routed_experts":4,
    "num_experts_per_tok":2,"moe_intermediate_size":32,"kv_lora_rank":16,"qk_nope_head_dim":8,
    "qk_rope_head_dim":8,"v_head_dim":8,"n_shared_experts":1,"first_k_dense_replace":1})")
            .find("c.json: at /q_lora_rank: expected") == 0);
  // Llama's biases: both the attention's and the FFN's are the spec's linear_bias; one alone is refused.
  CHECK(load_model_text(hf("llama", R"(,"attention_bias":true,"mlp_bias":true)"), "c.json").spec->linear_bias);
  CHECK(error_of(hf("llama", R"(,"attention_bias":true)")).find("c.json: at /attention_bias: expected") == 0);
  // GPT-2's learned positions stop at n_positions.
  CHECK(error_of(R"({"model_type":"gpt2","n_layer":1,"n_embd":64,"n_head":4,"vocab_size":10,"n_positions":8})",
                 32)
            .find("c.json: at /n_positions: expected at least the sequence length 32") == 0);
}
