// The transformer spec format: parse, validate, default, write.
#include "core/model_spec.hpp"

#include "core/model_spec_json.hpp"

namespace shardplan {

int64_t ModelSpec::q_head_dim() const {
  return attention.kind == "mla" ? attention.qk_nope_head_dim + attention.qk_rope_head_dim : head_dim;
}
int64_t ModelSpec::v_head_dim() const {
  return attention.kind == "mla" ? attention.v_head_dim : head_dim;
}

double attention_keys(double seq, double window) {
  if (window <= 0 || window >= seq) return seq;
  return (window * (window + 1) + 2 * (seq - window) * window) / (seq + 1);
}

namespace {
MoeSpec moe_from_json(const JsonObject& o) {
  o.reject_unknown({"experts", "top_k", "ffn_hidden", "shared_experts", "dense_layers"});
  MoeSpec m;
  m.experts = o.get_positive_int("experts");
  m.top_k = o.get_positive_int("top_k");
  m.ffn_hidden = o.get_positive_int("ffn_hidden");
  m.shared_experts = o.get_int("shared_experts", 0);
  if (m.shared_experts < 0) o.fail("shared_experts", "expected a non-negative integer");
  m.dense_layers = o.get_int("dense_layers", 0);
  if (m.dense_layers < 0) o.fail("dense_layers", "expected a non-negative integer");
  if (m.top_k > m.experts)
    o.fail("top_k", "expected top_k <= experts (" + std::to_string(m.experts) + "), found " +
                        std::to_string(m.top_k));
  return m;
}

AttentionSpec attention_from_json(const JsonObject& o) {
  o.reject_unknown({"kind", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                    "v_head_dim", "window", "global_every", "sinks"});
  AttentionSpec a;
  a.kind = o.get_enum("kind", {"mha", "gqa", "mla"}, "mha");
  if (o.has("window")) a.window = o.get_positive_int("window");
  if (o.has("global_every")) {
    if (!o.has("window")) o.fail("global_every", "expected no global_every without a window");
    a.global_every = o.get_positive_int("global_every");
  }
  a.sinks = o.get_bool("sinks", false);
  if (a.kind == "gqa") a.kind = "mha";  // GQA is mha with kv_heads < heads
  if (a.kind == "mla") {
    a.q_lora_rank = o.get_int("q_lora_rank", 0);
    if (a.q_lora_rank < 0) o.fail("q_lora_rank", "expected a non-negative integer");
    a.kv_lora_rank = o.get_positive_int("kv_lora_rank");
    a.qk_nope_head_dim = o.get_positive_int("qk_nope_head_dim");
    a.qk_rope_head_dim = o.get_positive_int("qk_rope_head_dim");
    a.v_head_dim = o.get_positive_int("v_head_dim");
  } else {
    for (const char* k : {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                          "v_head_dim"})
      if (o.has(k)) o.fail(k, "expected no MLA field when attention.kind is \"mha\"");
  }
  return a;
}

// A bounded number (required where `def` is empty): a rope parameter outside [lo, hi] is a typo,
// not a model.
double bounded_number(const JsonObject& o, const char* key, std::optional<double> def, double lo, double hi) {
  return o.in_range(key, def ? o.get_number(key, *def) : o.get_number(key), lo, hi, "a number");
}
}  // namespace

const std::vector<std::string>& rope_scaling_types() {
  static const std::vector<std::string> t = {"llama3", "yarn", "linear", "dynamic", "longrope"};
  return t;
}

RopeScaling rope_scaling_from_json(const JsonObject& o, const std::string& type) {
  RopeScaling r;
  r.type = type;
  const bool llama3 = type == "llama3", yarn = type == "yarn";
  // Longrope (Phi-3) scales by per-dimension lists and may leave the overall factor out.
  r.factor = bounded_number(o, "factor", type == "longrope" ? std::optional(1.0) : std::nullopt, 1, 1e6);
  if (llama3 || yarn) r.original_max_position = o.get_positive_int("original_max_position_embeddings");
  else if (o.has("original_max_position_embeddings"))
    r.original_max_position = o.get_positive_int("original_max_position_embeddings");
  if (r.original_max_position > kMaxModelDim) o.fail("original_max_position_embeddings", "expected at most 2^30 tokens");
  if (llama3) {
    r.low_freq_factor = bounded_number(o, "low_freq_factor", r.low_freq_factor, 1e-6, 1e6);
    r.high_freq_factor = bounded_number(o, "high_freq_factor", r.high_freq_factor, 1e-6, 1e6);
  }
  if (yarn) {
    r.beta_fast = bounded_number(o, "beta_fast", r.beta_fast, 1e-6, 1e6);
    r.beta_slow = bounded_number(o, "beta_slow", r.beta_slow, 1e-6, 1e6);
    r.mscale = bounded_number(o, "mscale", r.mscale, 0, 1e6);
    r.mscale_all_dim = bounded_number(o, "mscale_all_dim", r.mscale_all_dim, 0, 1e6);
  }
  return r;
}

namespace {
RopeSpec rope_from_json(const JsonObject& o) {
  o.reject_unknown({"theta", "scaling"});
  RopeSpec r;
  r.theta = bounded_number(o, "theta", r.theta, 1, 1e12);
  if (o.has("scaling")) {
    const JsonObject sc = o.get_object("scaling");
    const std::string type = sc.get_enum("type", rope_scaling_types(), "");
    std::vector<std::string> known = {"type", "factor", "original_max_position_embeddings"};
    if (type == "llama3") known.insert(known.end(), {"low_freq_factor", "high_freq_factor"});
    if (type == "yarn") known.insert(known.end(), {"beta_fast", "beta_slow", "mscale", "mscale_all_dim"});
    sc.reject_unknown(known);
    r.scaling = rope_scaling_from_json(sc, type);
  }
  return r;
}

Json rope_to_json(const RopeSpec& r) {
  Json j = {{"theta", r.theta}};
  const RopeScaling& s = r.scaling;
  if (s.type.empty()) return j;
  Json sc = {{"type", s.type}, {"factor", s.factor}};
  if (s.original_max_position > 0) sc["original_max_position_embeddings"] = s.original_max_position;
  if (s.type == "llama3") sc["low_freq_factor"] = s.low_freq_factor, sc["high_freq_factor"] = s.high_freq_factor;
  if (s.type == "yarn")
    sc["beta_fast"] = s.beta_fast, sc["beta_slow"] = s.beta_slow, sc["mscale"] = s.mscale,
    sc["mscale_all_dim"] = s.mscale_all_dim;
  j["scaling"] = sc;
  return j;
}
}  // namespace

void validate_model_spec(const ModelSpec& s, const std::string& file, const std::string& path,
                         const FieldSources& sources) {
  // The error points at the key the file has; a derived value at the key it was formed from.
  auto name = [&](const std::string& key) {
    auto it = sources.find(key);
    if (it != sources.end() && it->second.derived.empty()) return it->second.key;
    return key.substr(key.rfind('/') + 1);
  };
  auto fail = [&](const std::string& key, const std::string& msg) {
    auto it = sources.find(key);
    if (it == sources.end()) throw InputError(file, path + "/" + key, msg);
    const FieldSource& src = it->second;
    throw InputError(file, path + "/" + src.key,
                     src.derived.empty() ? msg : name(key) + " = " + src.derived + ": " + msg);
  };
  if (s.attention.kind != "mla" && s.head_dim == 0 && s.hidden % s.heads != 0)
    fail("hidden", "expected " + name("hidden") + " (" + std::to_string(s.hidden) +
                       ") divisible by " + name("heads") + " (" + std::to_string(s.heads) + ")");
  if (s.heads % s.kv_heads != 0)
    fail("kv_heads", "expected " + name("kv_heads") + " (" + std::to_string(s.kv_heads) +
                         ") to divide " + name("heads") + " (" + std::to_string(s.heads) + ")");
  // The spec loader checks these as it reads; the HF importer maps them from other fields.
  if (s.moe && (s.moe->shared_experts < 0 || s.moe->dense_layers < 0))
    fail(s.moe->shared_experts < 0 ? "moe/shared_experts" : "moe/dense_layers", "expected a non-negative integer");
  if (s.attention.q_lora_rank < 0) fail("attention/q_lora_rank", "expected a non-negative integer");
  if (!s.gated_ffn() && (s.glu_linear_offset != 0 || s.ffn_clamp != 0))
    fail(s.ffn_clamp != 0 ? "ffn_clamp" : "glu_linear_offset", "expected none without a gated ffn_act");
  if (s.attention.window < 0) fail("attention/window", "expected a positive integer (0: no window)");
  if (s.attention.global_every < 0 || (s.attention.global_every > 0 && s.attention.window == 0))
    fail("attention/global_every", "expected a positive integer, and only with a window");
  if (s.moe && s.moe->top_k > s.moe->experts)
    fail("moe/top_k", "expected " + name("moe/top_k") + " <= " + name("moe/experts") + " (" +
                          std::to_string(s.moe->experts) + "), found " +
                          std::to_string(s.moe->top_k));
  if (s.moe && s.moe->dense_layers > s.layers)
    fail("moe/dense_layers", "expected " + name("moe/dense_layers") + " <= " + name("layers") +
                                 " (" + std::to_string(s.layers) + ")");
  // Guard the arithmetic: sizes beyond these are not models, and products would overflow.
  if (s.layers > kMaxModelLayers)
    fail("layers", "expected at most " + std::to_string(kMaxModelLayers) + " layers, found " + std::to_string(s.layers));
  const MoeSpec moe = s.moe.value_or(MoeSpec{});
  const AttentionSpec& at = s.attention;
  for (auto [k, v] : {std::pair{"hidden", s.hidden}, {"heads", s.heads},
                      {"kv_heads", s.kv_heads}, {"head_dim", s.head_dim}, {"vocab", s.vocab},
                      {"ffn_hidden", s.ffn_hidden}, {"moe/experts", moe.experts}, {"moe/top_k", moe.top_k},
                      {"moe/ffn_hidden", moe.ffn_hidden}, {"moe/shared_experts", moe.shared_experts},
                      {"attention/q_lora_rank", at.q_lora_rank}, {"attention/kv_lora_rank", at.kv_lora_rank},
                      {"attention/qk_nope_head_dim", at.qk_nope_head_dim},
                      {"attention/qk_rope_head_dim", at.qk_rope_head_dim},
                      {"attention/v_head_dim", at.v_head_dim}, {"attention/window", at.window},
                      {"attention/global_every", at.global_every}})
    if (v > kMaxModelDim)
      fail(k, "expected at most " + std::to_string(kMaxModelDim) + ", found " + std::to_string(v));
  if (s.seq_len > kMaxModelDim) fail("seq_len", "expected at most 2^30 tokens");
}

ModelSpec model_spec_from_json(const JsonObject& o) {
  o.reject_unknown({"name", "layers", "hidden", "heads", "kv_heads", "head_dim", "ffn_hidden",
                    "ffn_act", "glu_linear_offset", "ffn_clamp", "linear_bias", "vocab", "seq_len", "norm",
                    "tied_embeddings", "qk_norm", "post_norms", "logit_softcap", "moe", "attention", "rope"});
  ModelSpec s;
  s.name = o.get_string("name", "model");
  s.layers = o.get_positive_int("layers");
  s.hidden = o.get_positive_int("hidden");
  if (s.hidden > kMaxModelDim)  // before 4 * hidden (the ffn_hidden default) is formed
    o.fail("hidden", "expected at most " + std::to_string(kMaxModelDim) + ", found " + std::to_string(s.hidden));
  s.heads = o.get_positive_int("heads");
  s.kv_heads = o.get_positive_int("kv_heads", s.heads);
  s.ffn_act = o.get_enum("ffn_act", {"gelu", "swiglu", "geglu", "quick_geglu"}, "gelu");
  for (const char* k : {"glu_linear_offset", "ffn_clamp"}) {
    if (!o.has(k)) continue;
    if (!s.gated_ffn()) o.fail(k, "expected no " + std::string(k) + " without a gated ffn_act");
    const double v = o.get_number(k);
    if (!(v >= 0 && v <= 1e6)) o.fail(k, "expected a number from 0 to 1e6, found " + std::to_string(v));
    (std::string(k) == "ffn_clamp" ? s.ffn_clamp : s.glu_linear_offset) = v;
  }
  s.linear_bias = o.get_bool("linear_bias", false);
  if (s.gated_ffn() && !o.has("ffn_hidden"))
    o.fail("ffn_hidden", "missing required field: expected ffn_hidden when ffn_act is \"" + s.ffn_act + "\"");
  s.ffn_hidden = o.get_positive_int("ffn_hidden", 4 * s.hidden);
  s.vocab = o.get_positive_int("vocab");
  s.seq_len = o.get_positive_int("seq_len");
  s.norm = o.get_enum("norm", {"layernorm", "rmsnorm"}, "layernorm");
  s.tied_embeddings = o.get_bool("tied_embeddings", false);
  s.qk_norm = o.get_bool("qk_norm", false);
  s.post_norms = o.get_bool("post_norms", false);
  s.logit_softcap = o.get_bool("logit_softcap", false);
  if (o.has("moe")) s.moe = moe_from_json(o.get_object("moe"));
  if (o.has("attention")) s.attention = attention_from_json(o.get_object("attention"));
  if (o.has("rope")) {
    if (s.learned_positions())
      o.fail("rope", "expected no rope: a layernorm + gelu model has learned positions (docs/model-spec.md)");
    s.rope = rope_from_json(o.get_object("rope"));
  }
  if (o.has("head_dim")) {
    s.head_dim = o.get_positive_int("head_dim");
  } else {
    if (s.attention.kind != "mla" && s.hidden % s.heads != 0)
      o.fail("hidden", "expected hidden (" + std::to_string(s.hidden) + ") divisible by heads (" +
                           std::to_string(s.heads) + ")");
    s.head_dim = s.hidden / s.heads;
  }
  if (s.attention.kind == "mla") s.head_dim = s.q_head_dim();
  FieldSources derived;
  if (!o.has("ffn_hidden"))
    derived["ffn_hidden"] = {"hidden", "4 * hidden, as ffn_hidden is absent"};
  if (s.attention.kind == "mla")
    derived["head_dim"] = {"attention/qk_nope_head_dim",
                           "qk_nope_head_dim + qk_rope_head_dim for MLA"};
  validate_model_spec(s, o.file(), o.path(), derived);
  return s;
}

Json model_spec_to_json(const ModelSpec& s) {
  Json j = Json::object();
  j["name"] = s.name;
  j["layers"] = s.layers;
  j["hidden"] = s.hidden;
  j["heads"] = s.heads;
  j["kv_heads"] = s.kv_heads;
  j["head_dim"] = s.head_dim;
  j["ffn_hidden"] = s.ffn_hidden;
  j["ffn_act"] = s.ffn_act;
  if (s.glu_linear_offset != 0) j["glu_linear_offset"] = s.glu_linear_offset;
  if (s.ffn_clamp != 0) j["ffn_clamp"] = s.ffn_clamp;
  if (s.linear_bias) j["linear_bias"] = true;
  j["vocab"] = s.vocab;
  j["seq_len"] = s.seq_len;
  j["norm"] = s.norm;
  j["tied_embeddings"] = s.tied_embeddings;
  if (s.qk_norm) j["qk_norm"] = true;
  if (s.post_norms) j["post_norms"] = true;
  if (s.logit_softcap) j["logit_softcap"] = true;
  if (s.moe) {
    j["moe"] = {{"experts", s.moe->experts},
                {"top_k", s.moe->top_k},
                {"ffn_hidden", s.moe->ffn_hidden},
                {"shared_experts", s.moe->shared_experts},
                {"dense_layers", s.moe->dense_layers}};
  }
  if (s.attention.kind == "mla") {
    j["attention"] = {{"kind", "mla"},
                      {"q_lora_rank", s.attention.q_lora_rank},
                      {"kv_lora_rank", s.attention.kv_lora_rank},
                      {"qk_nope_head_dim", s.attention.qk_nope_head_dim},
                      {"qk_rope_head_dim", s.attention.qk_rope_head_dim},
                      {"v_head_dim", s.attention.v_head_dim}};
  }
  if (s.attention.window > 0) {
    if (!j.contains("attention")) j["attention"] = {{"kind", "mha"}};
    j["attention"]["window"] = s.attention.window;
    if (s.attention.global_every > 0) j["attention"]["global_every"] = s.attention.global_every;
  }
  if (s.attention.sinks) {
    if (!j.contains("attention")) j["attention"] = {{"kind", "mha"}};
    j["attention"]["sinks"] = true;
  }
  if (s.rope != RopeSpec{}) j["rope"] = rope_to_json(s.rope);
  return j;
}

ModelSpec model_spec_from_json_text(const std::string& text, const std::string& file) {
  Json j = parse_json_text(text, file);
  return model_spec_from_json(JsonObject(j, file, ""));
}

ModelSpec load_model_spec_file(const std::string& file) {
  Json j = parse_json_file(file);
  return model_spec_from_json(JsonObject(j, file, ""));
}

std::string model_spec_to_json_text(const ModelSpec& spec, int indent) {
  return model_spec_to_json(spec).dump(indent);
}

}  // namespace shardplan
