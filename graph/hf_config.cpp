// The Hugging Face importer. HF configs carry many fields that do not change cost (dropout, token
// ids); those are ignored, the rest mapped as docs/model-spec.md tabulates. RoPE's base and scaling
// change no cost but are read too: the emitters pass them on to the frameworks.
#include "graph/hf_config.hpp"

#include "core/model_spec_json.hpp"

namespace shardplan {

const std::vector<std::string>& hf_model_types() {
  static const std::vector<std::string> t = {
      "llama", "mistral", "mixtral",     "qwen2", "qwen3",    "qwen3_moe",   "phi3",
      "gemma2", "gemma3_text", "gpt_oss", "deepseek_v3", "kimi_k2", "glm4_moe", "gpt2", "gpt_neox"};
  return t;
}

namespace {
// A width that a default is formed from (4 * hidden): bounded before the product can overflow.
int64_t width_of(const JsonObject& c, const char* key) {
  const int64_t v = c.get_positive_int(key);
  if (v > kMaxModelDim)
    c.fail(key, "expected at most " + std::to_string(kMaxModelDim) + ", found " + std::to_string(v));
  return v;
}

int64_t seq_of(const JsonObject& c, const char* key, int64_t override_len) {
  if (override_len > 0) return override_len;
  return c.get_positive_int(key);
}

// `sliding_window` when the config names one (null or absent: none, 0).
int64_t sliding_window_of(const JsonObject& c) {
  if (!c.has("sliding_window") || c.raw("sliding_window").is_null()) return 0;
  return c.get_positive_int("sliding_window");
}

// A key the config must carry: transformers' class default for it (what an absent key means
// there) differs from what shardplan would assume, so an absent key would be a silently wrong
// model. Saved Hub configs always write these out.
void require(const JsonObject& c, const char* key, const std::string& default_note) {
  if (!c.present(key))
    c.fail(key, std::string("expected \"") + key + "\" in the config (" + default_note +
                    "); write it out");
}

// The fields Llama-like and Gemma configs share (the FFN activation, norm and tying are each's).
ModelSpec decoder_common(const JsonObject& c, int64_t seq) {
  ModelSpec s;
  s.name = c.get_string("_name_or_path", c.get_string("model_type"));
  s.layers = c.get_positive_int("num_hidden_layers");
  s.hidden = c.get_positive_int("hidden_size");
  s.heads = c.get_positive_int("num_attention_heads");
  s.kv_heads = c.get_positive_int("num_key_value_heads", s.heads);
  if (s.hidden % s.heads != 0 && !c.has("head_dim"))
    c.fail("hidden_size", "expected hidden_size divisible by num_attention_heads");
  s.head_dim = c.get_positive_int("head_dim", s.hidden / s.heads);
  s.ffn_hidden = c.get_positive_int("intermediate_size");
  s.vocab = c.get_positive_int("vocab_size");
  s.seq_len = seq_of(c, "max_position_embeddings", seq);
  s.norm = "rmsnorm";
  return s;
}

// Llama-like: llama, mistral, phi3, qwen2, qwen3 (+ MoE variants build on it).
ModelSpec llama_like(const JsonObject& c, int64_t seq) {
  ModelSpec s = decoder_common(c, seq);
  s.ffn_act = "swiglu";
  std::string act = c.get_string("hidden_act", "silu");
  if (act != "silu" && act != "swish")
    c.fail("hidden_act", "expected \"silu\" (SwiGLU) for this model_type, found \"" + act + "\"");
  s.tied_embeddings = c.get_bool("tie_word_embeddings", false);
  return s;
}

// `layer_types`: every n-th layer "full_attention", the others "sliding_attention"; n is the
// pattern (Gemma 3: 6, gpt-oss: 2). Other lists are refused.
int64_t global_every_of(const JsonObject& c, int64_t layers) {
  const Json& lt = c.raw("layer_types");
  int64_t every = 0;
  if (lt.is_array() && !lt.empty())
    for (size_t i = 0; i < lt.size(); ++i)
      if (lt[i] == "full_attention") { every = static_cast<int64_t>(i) + 1; break; }
  bool periodic = every > 0 && lt.is_array() && static_cast<int64_t>(lt.size()) == layers;
  for (size_t i = 0; periodic && i < lt.size(); ++i)
    periodic = lt[i] == ((static_cast<int64_t>(i) + 1) % every == 0 ? "full_attention" : "sliding_attention");
  if (!periodic)
    c.fail("layer_types", "expected num_hidden_layers entries, \"sliding_attention\" but for every n-th "
                          "\"full_attention\" (other patterns are not supported)");
  return every;
}

// Gemma 2 and Gemma 3 (text): GELU-gated FFN (GeGLU), a norm before and after both the attention
// and the FFN, tied embeddings, sliding windows on all layers but every n-th. Gemma 2 alternates
// (layer 0 windowed, layer 1 global, ...), softcaps the final logits, and its attention logits
// inside the fused kernel (no cost modelled); Gemma 3 has one global layer in six (its
// sliding_window_pattern, or the newer layer_types list) and normalises queries and keys.
ModelSpec gemma(const JsonObject& c, const std::string& type, int64_t seq) {
  require(c, "head_dim", "Gemma2Config and Gemma3TextConfig default it to 256, not hidden_size / heads");
  ModelSpec s = decoder_common(c, seq);
  s.ffn_act = "geglu";
  const char* act_key = c.has("hidden_activation") ? "hidden_activation" : "hidden_act";
  const std::string act = c.get_string(act_key, "gelu_pytorch_tanh");
  if (act != "gelu_pytorch_tanh" && act != "gelu" && act != "gelu_new")
    c.fail(act_key, "expected a GELU (\"gelu_pytorch_tanh\") for this model_type, found \"" + act + "\"");
  s.tied_embeddings = c.get_bool("tie_word_embeddings", true);
  s.post_norms = true;
  s.qk_norm = type == "gemma3_text";
  if (type == "gemma2")
    s.logit_softcap = c.has("final_logit_softcapping") && !c.raw("final_logit_softcapping").is_null();
  s.attention.window = sliding_window_of(c);
  if (s.attention.window == 0) return s;
  if (type == "gemma2") {
    s.attention.global_every = 2;
  } else if (c.has("layer_types")) {
    s.attention.global_every = global_every_of(c, s.layers);
  } else {
    s.attention.global_every = c.get_positive_int("sliding_window_pattern", 6);
  }
  return s;
}

// gpt-oss: MoE on every layer (num_local_experts of intermediate_size, top num_experts_per_tok),
// attention with biases, a learned sink per head, head_dim 64 wider than hidden / heads, and a
// window (sliding_window) on every other layer (layer_types, alternating by default). Its FFN
// is the clamped quick-GELU-gated unit of HF's GptOssExperts: (clamp(up) + 1) * g * sigmoid(1.702 g)
// with g = clamp(gate) at swiglu_limit. Experts and router carry biases too.
ModelSpec gpt_oss(const JsonObject& c, int64_t seq) {
  ModelSpec s = decoder_common(c, seq);
  s.ffn_act = "quick_geglu";
  s.glu_linear_offset = 1;
  s.ffn_clamp = c.get_number("swiglu_limit", 7.0);
  if (!(s.ffn_clamp > 0 && s.ffn_clamp <= 1e6)) c.fail("swiglu_limit", "expected a positive number");
  if (!c.get_bool("attention_bias", true))
    c.fail("attention_bias", "expected true: gpt-oss's experts and router have biases, and the spec "
                             "puts biases on every linear or none");
  s.linear_bias = true;
  s.attention.sinks = true;
  s.tied_embeddings = c.get_bool("tie_word_embeddings", false);
  MoeSpec m;
  m.experts = c.get_positive_int("num_local_experts");
  m.top_k = c.get_positive_int(c.has("num_experts_per_tok") ? "num_experts_per_tok" : "experts_per_token");
  m.ffn_hidden = s.ffn_hidden;
  s.moe = m;
  s.attention.window = sliding_window_of(c);
  if (s.attention.window > 0)
    s.attention.global_every = c.has("layer_types") ? global_every_of(c, s.layers) : 2;
  return s;
}

// DeepSeek-V3's MoE keys (also Kimi K2's and GLM-4.5's): a dense prefix of first_k_dense_replace
// layers, then routed experts with shared ones on every layer.
MoeSpec deepseek_moe(const JsonObject& c) {
  MoeSpec m;
  m.experts = c.get_positive_int("n_routed_experts");
  m.top_k = c.get_positive_int("num_experts_per_tok");
  m.ffn_hidden = c.get_positive_int("moe_intermediate_size");
  require(c, "n_shared_experts", "transformers defaults it to 1");
  require(c, "first_k_dense_replace", "transformers defaults it to 3 for DeepSeek-V3, 1 for GLM-4.5");
  m.shared_experts = c.get_int("n_shared_experts", 0);
  m.dense_layers = c.get_int("first_k_dense_replace", 0);
  if (c.get_int("moe_layer_freq", 1) != 1)
    c.fail("moe_layer_freq", "expected 1 (every layer after the dense ones is MoE)");
  return m;
}

// Mistral, Mixtral and Phi-3 name a window every layer attends within (null: none). Qwen2/Qwen3
// carry one too but use it only under use_sliding_window, and then on the layers from
// max_window_layers on, which the spec cannot say.
void read_sliding_window(const JsonObject& c, const std::string& type, ModelSpec& s) {
  if (type == "qwen2" || type == "qwen3" || type == "qwen3_moe") {
    if (c.get_bool("use_sliding_window", false))
      c.fail("use_sliding_window", "expected false: sliding windows on the layers from max_window_layers "
                                   "on are not supported");
    return;
  }
  s.attention.window = sliding_window_of(c);
}

// RoPE's base and scaling: rope_theta and rope_scaling (null, absent or rope_type "default": none),
// or transformers v5's rope_parameters, which holds both, per layer type where layers differ
// (Gemma 3: "full_attention" and "sliding_attention"; the full-attention layers' is the model's,
// the one a framework's single base takes). Where the class default of rope_theta is not 10000
// (Mixtral and Gemma 3: 1e6, gpt-oss: 150000) the config must say it. Phi-3's legacy scaling
// types "su" and "yarn" are its longrope (Phi3Config renames them).
void read_rope(const JsonObject& c, const std::string& type, ModelSpec& s) {
  const bool v5 = c.has("rope_parameters");
  const JsonObject top = v5 ? c.get_object("rope_parameters") : c;
  const JsonObject params =
      v5 && !top.has("rope_theta") && top.has("full_attention") ? top.get_object("full_attention") : top;
  if (type == "mixtral" || type == "gemma3_text" || type == "gpt_oss")
    require(params, "rope_theta", "the " + type + " class default is not 10000");
  s.rope.theta = params.get_positive_number("rope_theta", 10000);
  if (s.rope.theta > 1e12) params.fail("rope_theta", "expected a number from 1 to 1e12");
  if (!v5 && !c.has("rope_scaling")) return;
  const JsonObject sc = v5 ? params : c.get_object("rope_scaling");
  const char* type_key = sc.has("rope_type") ? "rope_type" : "type";
  std::vector<std::string> types = rope_scaling_types();
  types.push_back("default");
  if (type == "phi3") types.insert(types.end(), {"su"});
  std::string kind = sc.get_enum(type_key, types, "default");
  if (type == "phi3" && (kind == "su" || kind == "yarn")) kind = "longrope";
  if (kind != "default") s.rope.scaling = rope_scaling_from_json(sc, kind);
}

// The config keys a spec field was read from, so a cross-field error names the key the user wrote
// (docs/model-spec.md tabulates the mapping).
FieldSources hf_sources(const JsonObject& c, const std::string& type, int64_t seq) {
  FieldSources f;
  const bool gpt2 = type == "gpt2";
  f["layers"] = {gpt2 ? "n_layer" : "num_hidden_layers", ""};
  f["hidden"] = {gpt2 ? "n_embd" : "hidden_size", ""};
  f["heads"] = {gpt2 ? "n_head" : "num_attention_heads", ""};
  f["kv_heads"] = {c.has("num_key_value_heads") ? "num_key_value_heads" : f["heads"].key, ""};
  f["vocab"] = {"vocab_size", ""};
  f["seq_len"] = {gpt2 ? "n_positions" : "max_position_embeddings",
                  seq > 0 ? "the sequence-length override" : ""};
  const std::string ffn = gpt2 ? "n_inner" : "intermediate_size";
  f["ffn_hidden"] =
      c.has(ffn)
          ? FieldSource{ffn, ""}
          : FieldSource{f["hidden"].key, "4 * " + f["hidden"].key + ", as " + ffn + " is absent"};
  if (!c.has("head_dim"))
    f["head_dim"] = {f["hidden"].key, f["hidden"].key + " / " + f["heads"].key};
  f["moe/experts"] = {type == "mixtral" || type == "gpt_oss" ? "num_local_experts"
                      : type == "qwen3_moe" ? "num_experts"
                                            : "n_routed_experts",
                      ""};
  f["moe/top_k"] = {"num_experts_per_tok", ""};
  f["moe/ffn_hidden"] = {type == "mixtral" || type == "gpt_oss" ? "intermediate_size" : "moe_intermediate_size", ""};
  f["moe/shared_experts"] = {"n_shared_experts", ""};
  f["moe/dense_layers"] = {"first_k_dense_replace", ""};
  for (const char* k :
       {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"})
    f[std::string("attention/") + k] = {k, ""};
  if (type == "deepseek_v3" || type == "kimi_k2")
    f["head_dim"] = {"qk_nope_head_dim", "qk_nope_head_dim + qk_rope_head_dim for MLA"};
  f["attention/window"] = {"sliding_window", ""};
  return f;
}
}  // namespace

ModelSpec model_spec_from_hf(const JsonObject& c, int64_t seq) {
  std::string type = c.get_enum("model_type", hf_model_types(), "");
  ModelSpec s;
  if (type == "gpt2") {
    s.name = c.get_string("_name_or_path", "gpt2");
    s.layers = c.get_positive_int("n_layer");
    s.hidden = width_of(c, "n_embd");
    s.heads = c.get_positive_int("n_head");
    s.kv_heads = s.heads;
    if (s.hidden % s.heads != 0) c.fail("n_embd", "expected n_embd divisible by n_head");
    s.head_dim = s.hidden / s.heads;
    s.ffn_hidden = c.get_positive_int("n_inner", 4 * s.hidden);
    s.vocab = c.get_positive_int("vocab_size");
    s.seq_len = seq_of(c, "n_positions", seq);
    // Learned positions: the table has n_positions rows, and no sequence runs past them.
    if (s.seq_len > c.get_positive_int("n_positions", 1024))
      c.fail("n_positions", "expected at least the sequence length " + std::to_string(s.seq_len) +
                                " (GPT-2's learned position table has n_positions rows)");
    s.tied_embeddings = c.get_bool("tie_word_embeddings", true);
  } else if (type == "gpt_neox") {
    s.name = c.get_string("_name_or_path", "gpt_neox");
    s.layers = c.get_positive_int("num_hidden_layers");
    s.hidden = width_of(c, "hidden_size");
    s.heads = c.get_positive_int("num_attention_heads");
    s.kv_heads = s.heads;
    if (s.hidden % s.heads != 0) c.fail("hidden_size", "expected hidden_size divisible by num_attention_heads");
    s.head_dim = s.hidden / s.heads;
    s.ffn_hidden = c.get_positive_int("intermediate_size", 4 * s.hidden);
    s.vocab = c.get_positive_int("vocab_size");
    s.seq_len = seq_of(c, "max_position_embeddings", seq);
    s.tied_embeddings = c.get_bool("tie_word_embeddings", false);
  } else if (type == "gemma2" || type == "gemma3_text") {
    s = gemma(c, type, seq);
  } else if (type == "gpt_oss") {
    s = gpt_oss(c, seq);
  } else {
    // transformers' defaults where a key is absent: Llama's and Phi-3's key/value heads are the
    // attention heads (as here), the others' are fixed numbers (Mistral and Mixtral 8, Qwen2 and
    // Qwen3 32, Qwen3-MoE 4); Mistral's window is 4096.
    if (type != "llama" && type != "phi3" && type != "deepseek_v3" && type != "kimi_k2")  // MLA: no KV heads
      require(c, "num_key_value_heads", "the " + type + " class default is a fixed number, not num_attention_heads");
    if (type == "mistral") require(c, "sliding_window", "MistralConfig defaults it to 4096; null for none");
    s = llama_like(c, seq);
    read_sliding_window(c, type, s);
    // Biases on every linear (Llama's attention_bias with mlp_bias) are the spec's linear_bias;
    // on one of the two only, the spec cannot say it.
    if (type == "llama" || type == "mistral" || type == "qwen3") {
      const bool attn = c.get_bool("attention_bias", false), mlp = c.get_bool("mlp_bias", false);
      if (attn != mlp)
        c.fail(attn ? "attention_bias" : "mlp_bias",
               "expected attention_bias and mlp_bias both true or both false (biases on the "
               "attention or the FFN linears only are not supported)");
      s.linear_bias = attn;
    }
    // Qwen3 (dense and MoE) normalises each query and key head (q_norm, k_norm) before RoPE.
    s.qk_norm = type == "qwen3" || type == "qwen3_moe";
    if (type == "mixtral") {
      MoeSpec m;
      m.experts = c.get_positive_int("num_local_experts");
      m.top_k = c.get_positive_int("num_experts_per_tok");
      m.ffn_hidden = s.ffn_hidden;
      s.moe = m;
    } else if (type == "qwen3_moe") {
      MoeSpec m;
      m.experts = c.get_positive_int("num_experts");
      m.top_k = c.get_positive_int("num_experts_per_tok");
      m.ffn_hidden = c.get_positive_int("moe_intermediate_size");
      // decoder_sparse_step > 1 or mlp_only_layers would interleave dense layers: not supported.
      if (c.get_int("decoder_sparse_step", 1) != 1)
        c.fail("decoder_sparse_step", "expected 1 (every layer MoE); interleaved dense layers are not supported");
      if (c.has("mlp_only_layers") && !(c.raw("mlp_only_layers").is_array() && c.raw("mlp_only_layers").empty()))
        c.fail("mlp_only_layers", "expected an empty list; dense layers among MoE layers are not supported");
      s.moe = m;
    } else if (type == "glm4_moe") {
      // GLM-4.5: GQA attention (q/k/v biases under attention_bias, which the spec does not
      // carry: 0.01% of the parameters; q/k norms under use_qk_norm), a dense prefix, then MoE
      // layers with shared experts, DeepSeek-V3's MoE keys. Its multi-token-prediction layers
      // (num_nextn_predict_layers) are not part of the main model, as for DeepSeek-V3.
      s.moe = deepseek_moe(c);
      s.qk_norm = c.get_bool("use_qk_norm", false);
    } else if (type == "deepseek_v3" || type == "kimi_k2") {
      // Kimi K2 is DeepSeek-V3's architecture under its own model_type (its config.json keys
      // are DeepSeek-V3's; Moonshot's README: renamed so engines can tell the two apart).
      s.moe = deepseek_moe(c);
      s.attention.kind = "mla";
      require(c, "q_lora_rank", "DeepseekV3Config defaults it to 1536; null for a plain query projection");
      s.attention.q_lora_rank = c.has("q_lora_rank") ? c.get_int("q_lora_rank", 0) : 0;  // null: none
      s.attention.kv_lora_rank = c.get_positive_int("kv_lora_rank");
      s.attention.qk_nope_head_dim = c.get_positive_int("qk_nope_head_dim");
      s.attention.qk_rope_head_dim = c.get_positive_int("qk_rope_head_dim");
      s.attention.v_head_dim = c.get_positive_int("v_head_dim");
      s.head_dim = s.q_head_dim();
    }
  }
  if (type != "gpt2" && type != "gpt_neox") read_rope(c, type, s);
  validate_model_spec(s, c.file(), c.path(), hf_sources(c, type, seq));
  return s;
}

}  // namespace shardplan
