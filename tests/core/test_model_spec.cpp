// The transformer spec format: defaults, round trip, and every kind of bad input (exit 2 paths).
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "core/error.hpp"
#include "core/model_spec.hpp"

using namespace shardplan;

namespace {
std::string error_of(const std::string& text) {
  try {
    model_spec_from_json_text(text, "m.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("defaults follow the contract") {
  ModelSpec m = model_spec_from_json_text(
      R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16})", "m.json");
  CHECK(m.kv_heads == 4);
  CHECK(m.head_dim == 16);
  CHECK(m.ffn_hidden == 256);
  CHECK(m.ffn_act == "gelu");
  CHECK(m.norm == "layernorm");
  CHECK_FALSE(m.tied_embeddings);
  CHECK_FALSE(m.qk_norm);
  CHECK_FALSE(m.moe.has_value());
  CHECK(m.attention.kind == "mha");
}

TEST_CASE("every field round-trips") {
  const char* text = R"({ "name": "every-field-example", "layers": 96, "hidden": 12288, "heads": 96,
    "kv_heads": 96, "head_dim": 128, "ffn_hidden": 49152, "ffn_act": "gelu",
    "vocab": 51200, "seq_len": 2048, "norm": "layernorm", "tied_embeddings": false, "qk_norm": true,
    "moe": { "experts": 256, "top_k": 8, "ffn_hidden": 2048, "shared_experts": 1, "dense_layers": 3 },
    "attention": { "kind": "mla", "q_lora_rank": 1536, "kv_lora_rank": 512,
                   "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128 } })";
  ModelSpec m = model_spec_from_json_text(text, "m.json");
  CHECK(m.moe->experts == 256);
  CHECK(m.attention.kv_lora_rank == 512);
  CHECK(m.q_head_dim() == 192);
  CHECK(m.qk_norm);
  ModelSpec again = model_spec_from_json_text(model_spec_to_json_text(m), "again.json");
  CHECK(again == m);
}

TEST_CASE("bad specs name the file, the JSON path and what was expected") {
  CHECK(error_of("{").find("m.json: at /: malformed JSON") == 0);
  CHECK(error_of(R"({"hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16})")
            .find("at /layers: missing required field") != std::string::npos);
  CHECK(error_of(R"({"layers": "2", "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16})")
            .find("at /layers: expected an integer, found a string") != std::string::npos);
  CHECK(error_of(R"({"layers": 0, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16})")
            .find("at /layers: expected a positive integer") != std::string::npos);
  CHECK(error_of(R"({"layers": -3, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16})")
            .find("at /layers: expected a positive integer") != std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hidden": 65, "heads": 4, "vocab": 100, "seq_len": 16})")
            .find("divisible by heads") != std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 3, "vocab": 100, "seq_len": 16})")
            .find("at /kv_heads: expected kv_heads (3) to divide heads (4)") != std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hiden": 64, "heads": 4, "vocab": 100, "seq_len": 16})")
            .find("unknown field \"hiden\" (did you mean \"hidden\"?)") != std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "ffn_act": "swiglu"})")
            .find("at /ffn_hidden: missing required field") != std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "norm": "rmsnrom"})")
            .find("did you mean \"rmsnorm\"") != std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16,
                     "moe": {"experts": 4, "top_k": 8, "ffn_hidden": 32}})")
            .find("at /moe/top_k") != std::string::npos);
  CHECK(error_of(R"([1, 2])").find("expected an object") != std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "qk_norm": 1})")
            .find("at /qk_norm: expected a boolean") != std::string::npos);
}

TEST_CASE("sliding-window attention: keys per query by hand, layer pattern, round trip, bad input") {
  // Full attention counts seq keys per query (the FLOPs conventions' count; the kernel skips the
  // causal half), whatever the window beyond it.
  CHECK(attention_keys(4096, 0) == 4096);
  CHECK(attention_keys(4096, 4096) == 4096);
  CHECK(attention_keys(4096, 8192) == 4096);
  // seq 8, window 2: the queries see 1, 2, 2, 2, 2, 2, 2, 2 keys, 15 in all, against
  // 1 + 2 + ... + 8 = 36 for full causal attention: 8 * 15/36 = 3.333 = (2*3 + 2*6*2) / 9.
  CHECK(attention_keys(8, 2) == testing::rel(30.0 / 9.0));
  // Mistral 7B v0.1 at 32768 tokens with its 4096 window: (4096*4097 + 2*28672*4096) / 32769 =
  // (16,781,312 + 234,881,024) / 32769 = 7679.9 keys, 23% of the 32768 full attention counts.
  CHECK(attention_keys(32768, 4096) == testing::rel((16781312.0 + 234881024.0) / 32769.0));

  ModelSpec m = model_spec_from_json_text(
      R"({"layers": 12, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 64,
          "attention": {"window": 16, "global_every": 6}})", "m.json");
  CHECK(m.attention.kind == "mha");
  CHECK(m.layer_window(0) == 16);
  CHECK(m.layer_window(4) == 16);
  CHECK(m.layer_window(5) == 0);  // Gemma 3's pattern: every sixth layer is global
  CHECK(m.layer_window(11) == 0);
  CHECK(model_spec_from_json_text(model_spec_to_json_text(m), "again.json") == m);
  ModelSpec every = model_spec_from_json_text(
      R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 64, "attention": {"window": 16}})", "m.json");
  CHECK(every.layer_window(0) == 16);
  CHECK(every.layer_window(1) == 16);

  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "attention": {"window": 0}})")
            .find("at /attention/window: expected a positive integer") != std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "attention": {"global_every": 2}})")
            .find("at /attention/global_every: expected no global_every without a window") != std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "attention": {"window": 8, "global_every": -1}})")
            .find("at /attention/global_every: expected a positive integer") != std::string::npos);
}

TEST_CASE("Gemma's layer in the spec: geglu, post_norms, logit_softcap round-trip; geglu needs ffn_hidden") {
  ModelSpec m = model_spec_from_json_text(
      R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "ffn_act": "geglu",
          "ffn_hidden": 96, "post_norms": true, "logit_softcap": true})", "m.json");
  CHECK(m.gated_ffn());
  CHECK(m.post_norms);
  CHECK(m.logit_softcap);
  CHECK(model_spec_from_json_text(model_spec_to_json_text(m), "again.json") == m);
  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "ffn_act": "geglu"})")
            .find("at /ffn_hidden: missing required field: expected ffn_hidden when ffn_act is \"geglu\"") !=
        std::string::npos);
  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "post_norms": "yes"})")
            .find("at /post_norms: expected a boolean") != std::string::npos);
}

TEST_CASE("gpt-oss's layer in the spec: quick_geglu, offset, clamp, linear_bias, sinks round-trip; bad values placed") {
  ModelSpec m = model_spec_from_json_text(
      R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "ffn_act": "quick_geglu",
          "ffn_hidden": 96, "glu_linear_offset": 1, "ffn_clamp": 7, "linear_bias": true,
          "attention": {"window": 8, "global_every": 2, "sinks": true}})", "m.json");
  CHECK(m.gated_ffn());
  CHECK(m.glu_linear_offset == 1);
  CHECK(m.ffn_clamp == 7);
  CHECK(m.linear_bias);
  CHECK(m.attention.sinks);
  CHECK(model_spec_from_json_text(model_spec_to_json_text(m), "again.json") == m);
  const std::string base = R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, )";
  CHECK(error_of(base + R"("ffn_clamp": 7})").find("at /ffn_clamp: expected no ffn_clamp without a gated ffn_act") !=
        std::string::npos);
  CHECK(error_of(base + R"("ffn_act": "swiglu", "ffn_hidden": 96, "ffn_clamp": -1})")
            .find("at /ffn_clamp: expected a number from 0 to 1e6") != std::string::npos);
  CHECK(error_of(base + R"("ffn_act": "swiglu", "ffn_hidden": 96, "glu_linear_offset": "one"})")
            .find("at /glu_linear_offset") != std::string::npos);
  CHECK(error_of(base + R"("linear_bias": 1})").find("at /linear_bias: expected a boolean") != std::string::npos);
  CHECK(error_of(base + R"("attention": {"sinks": "yes"}})").find("at /attention/sinks: expected a boolean") !=
        std::string::npos);
}

TEST_CASE("rope: base and scaling round-trip under HF's key names; bad values name their path") {
  const std::string base = R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16,
      "ffn_act": "swiglu", "ffn_hidden": 96, "norm": "rmsnorm")";
  const ModelSpec plain = model_spec_from_json_text(base + "}", "m.json");
  CHECK(plain.rope.theta == 10000);  // the default every framework has
  CHECK(plain.rope.scaling.type.empty());
  CHECK(model_spec_to_json_text(plain).find("rope") == std::string::npos);  // defaults not written
  const ModelSpec m = model_spec_from_json_text(
      base + R"(, "rope": {"theta": 500000, "scaling": {"type": "llama3", "factor": 8,
      "original_max_position_embeddings": 8192, "low_freq_factor": 1, "high_freq_factor": 4}}})",
      "m.json");
  CHECK(m.rope.theta == 500000);
  CHECK(m.rope.scaling.type == "llama3");
  CHECK(m.rope.scaling.factor == 8);
  CHECK(m.rope.scaling.original_max_position == 8192);
  CHECK(model_spec_from_json_text(model_spec_to_json_text(m), "m.json") == m);
  const ModelSpec y = model_spec_from_json_text(
      base + R"(, "rope": {"scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
      "mscale_all_dim": 1}}})", "m.json");
  CHECK(y.rope.scaling.mscale_all_dim == 1);
  CHECK(y.rope.scaling.beta_fast == 32);  // YaRN's defaults
  CHECK(model_spec_from_json_text(model_spec_to_json_text(y), "m.json") == y);

  CHECK(error_of(R"({"layers": 2, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "rope": {"theta": 5e5}})")
            .find("at /rope: expected no rope: a layernorm + gelu model has learned positions") != std::string::npos);
  CHECK(error_of(base + R"(, "rope": {"theta": 0}})").find("at /rope/theta: expected a number from 1 to 1e+12, found 0") !=
        std::string::npos);
  CHECK(error_of(base + R"(, "rope": {"scaling": {"type": "ntk", "factor": 2}}})").find("at /rope/scaling/type") !=
        std::string::npos);
  CHECK(error_of(base + R"(, "rope": {"scaling": {"type": "llama3", "factor": 8}}})")
            .find("at /rope/scaling/original_max_position_embeddings: missing") != std::string::npos);
  CHECK(error_of(base + R"(, "rope": {"scaling": {"type": "linear"}}})").find("at /rope/scaling/factor: missing") !=
        std::string::npos);
  CHECK(error_of(base + R"(, "rope": {"scaling": {"type": "linear", "factor": 2, "beta_fast": 8}}})")
            .find("at /rope/scaling/beta_fast") != std::string::npos);  // a YaRN key on linear scaling
  CHECK(error_of(base + R"(, "rope": {"scaling": {"type": "linear", "factor": 0.5}}})")
            .find("at /rope/scaling/factor: expected a number from 1 to") != std::string::npos);
}
