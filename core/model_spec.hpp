// ModelSpec: a decoder-only transformer as the spec format (models/*.json) describes it.
// The format is a contract (docs/model-spec.md); loaders validate every field.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace shardplan {

struct MoeSpec {
  int64_t experts = 0;         // routed experts per MoE layer
  int64_t top_k = 0;           // routed experts per token
  int64_t ffn_hidden = 0;      // hidden size of one expert's FFN
  int64_t shared_experts = 0;  // always-on experts of the same size
  int64_t dense_layers = 0;    // the first layers keep a dense FFN (DeepSeek's first_k_dense)
  bool operator==(const MoeSpec&) const = default;
};

struct AttentionSpec {
  std::string kind = "mha";  // "mha" (GQA follows from kv_heads) or "mla"
  // MLA (DeepSeek-V2/V3) low-rank projections; zero for mha.
  int64_t q_lora_rank = 0;  // 0: plain q projection
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  // Sliding-window attention (Mistral 7B v0.1, Gemma 2/3, Phi-3): a query attends to the last
  // `window` keys only (itself included). 0: every layer attends to the whole causal prefix.
  int64_t window = 0;
  // With a window, every global_every-th layer (layers global_every-1, 2·global_every-1, ...)
  // attends to the whole prefix instead (Gemma 2: 2, Gemma 3: 6); 0: every layer is windowed.
  int64_t global_every = 0;
  // A learned logit per head in the softmax's denominator ("attention sinks", gpt-oss; Megatron's
  // --softmax-type learnable): one parameter per head and layer, no measurable cost.
  bool sinks = false;
  bool operator==(const AttentionSpec&) const = default;
};

// Rotary position embeddings (models without learned positions): the frequency base and how the
// frequencies were stretched for a longer context (HF's rope_theta and rope_scaling). Nothing here
// changes the cost; the emitters pass it on, since a framework's default base (10000) would train
// another model than the one loaded.
struct RopeScaling {
  // "llama3" (Llama 3.1's per-band scaling), "yarn" (DeepSeek-V3, gpt-oss) or "linear" (position
  // interpolation); "" for none.
  std::string type;
  double factor = 1;
  int64_t original_max_position = 0;  // the context the unscaled frequencies were trained for
  double low_freq_factor = 1, high_freq_factor = 4;                  // llama3
  double beta_fast = 32, beta_slow = 1, mscale = 1, mscale_all_dim = 0;  // yarn
  bool operator==(const RopeScaling&) const = default;
  // Whether training within the original context sees other frequencies than plain RoPE: every
  // scaling but dynamic NTK, which scales only past the trained context.
  bool changes_training() const { return !type.empty() && type != "dynamic"; }
};
struct RopeSpec {
  double theta = 10000;
  RopeScaling scaling;
  bool operator==(const RopeSpec&) const = default;
};

// Keys one query attends to over a causal sequence of `seq` tokens, counted as the FLOPs
// conventions count full attention (seq keys per query; the causal half is the kernel's to skip).
// Full attention (window 0 or >= seq): seq. A sliding window of w keys averages
// [w(w+1)/2 + (seq-w)w]/seq keys per query against (seq+1)/2 for full causal attention, so it
// counts seq times that ratio: [w(w+1) + 2(seq-w)w] / (seq+1).
double attention_keys(double seq, double window);

struct ModelSpec {
  std::string name;
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn_hidden = 0;
  // "gelu" (2 matrices), or a gated unit of 3 matrices: "swiglu" (SiLU gate, Llama), "geglu"
  // (GELU gate, Gemma) or "quick_geglu" (x*sigmoid(1.702x) gate, gpt-oss).
  std::string ffn_act = "gelu";
  // Gated units only (gpt-oss): the linear half enters as (up + glu_linear_offset), and both
  // halves are clamped to +-ffn_clamp (0: no clamp). Elementwise in the activation kernel.
  double glu_linear_offset = 0;
  double ffn_clamp = 0;
  // Biases on the attention and FFN linears (experts and router too) beyond the GPT lineage,
  // which always has them (gpt-oss). Not on the output layer.
  bool linear_bias = false;
  int64_t vocab = 0;
  int64_t seq_len = 0;
  std::string norm = "layernorm";  // "layernorm" or "rmsnorm"
  bool tied_embeddings = false;
  bool qk_norm = false;  // per-head RMSNorm of queries and keys before attention (Qwen3)
  // A norm after the attention and after the FFN too, before each residual add (Gemma 2/3).
  bool post_norms = false;
  // The logits pass through cap·tanh(x/cap) before the loss (Gemma 2's final_logit_softcapping).
  bool logit_softcap = false;
  std::optional<MoeSpec> moe;
  AttentionSpec attention;
  RopeSpec rope;  // unused with learned positions
  bool operator==(const ModelSpec&) const = default;

  // GPT lineage (layernorm + gelu): a learned position table, and biases on every linear; the
  // others rotate queries and keys (docs/model-spec.md).
  bool learned_positions() const { return norm == "layernorm" && ffn_act == "gelu"; }

  bool is_moe_layer(int64_t layer) const { return moe && layer >= moe->dense_layers; }
  bool gated_ffn() const { return ffn_act == "swiglu" || ffn_act == "geglu" || ffn_act == "quick_geglu"; }
  // A sliding window shorter than `seq` tokens (one that long or longer is full attention).
  bool window_below(int64_t seq) const { return attention.window > 0 && attention.window < seq; }
  // The sliding window of a layer's attention; 0 where it attends to the whole prefix.
  int64_t layer_window(int64_t layer) const {
    if (attention.window <= 0) return 0;
    const int64_t g = attention.global_every;
    return g > 0 && (layer + 1) % g == 0 ? 0 : attention.window;
  }
  int64_t q_head_dim() const;   // per-head dim of queries/keys (MLA: nope + rope)
  int64_t v_head_dim() const;   // per-head dim of values
};

// Parses a transformer spec from JSON text already read; `file` labels errors.
// Throws InputError on any invalid field. Defaults as in docs/model-spec.md.
ModelSpec model_spec_from_json_text(const std::string& text, const std::string& file);
ModelSpec load_model_spec_file(const std::string& file);
// Serialises to the spec format (every field written; round-trips).
std::string model_spec_to_json_text(const ModelSpec& spec, int indent = 1);

}  // namespace shardplan
