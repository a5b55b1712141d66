// Spec -> OpGraph. Per-token FLOPs follow the standard accounting (2 FLOPs per multiply-add, full
// s x s attention scores as in Korthikanti et al. eq. 7); saved bytes follow Korthikanti Table 2's
// decomposition (34 s*b*h per layer for a GPT layer, the 5*a*s term added by the cost model only
// when attention is not fused).
#include "graph/transformer_builder.hpp"

#include <string>

#include "graph/op_costs.hpp"

namespace shardplan {

namespace {
constexpr double kAct = 2;  // bytes per activation element (16-bit)

struct Builder {
  const ModelSpec& m;
  OpGraph gr;
  bool gpt;
  bool bias;  // biases on the attention and FFN linears: the GPT lineage, or linear_bias
  int64_t prev = -1;  // last op on the residual stream

  int64_t add(Op op, double in_edge_bytes) {
    op.block = static_cast<int64_t>(gr.blocks.size()) - 1;
    int64_t v = gr.add_op(std::move(op));
    gr.blocks.back().ops.push_back(v);
    if (prev >= 0) gr.add_edge(prev, v, in_edge_bytes);
    prev = v;
    return v;
  }
  void block(std::string name, std::string type) {
    gr.blocks.push_back(Block{std::move(name), std::move(type), {}, 0, 0, 0, 0, false});
  }
  Op matmul(std::string name, int64_t n, int64_t k, Split split, bool bias) {
    Op o;
    o.name = std::move(name);
    o.kind = OpKind::matmul;
    o.split = split;
    o.dims = {n, k};
    derive_op_costs(o, m.seq_len);  // 2nk forward, 4nk backward (dX and dW); keeps its input
    if (bias) o.params += double(n);
    return o;
  }
  Op elementwise(std::string name, int64_t width, double saved_elems, Split split) {
    Op o;
    o.name = std::move(name);
    o.kind = OpKind::elementwise;
    o.split = split;
    o.dims = {width};
    o.bytes_per_token = kAct * 2 * width;
    o.saved_bytes_per_token = kAct * saved_elems;
    o.tp_replicated = o.saved_replicated = split == Split::none;
    return o;
  }
  Op norm(std::string name, int64_t width) {
    Op o = elementwise(std::move(name), width, double(width), Split::none);
    o.kind = OpKind::norm;
    o.params = m.norm == "layernorm" ? 2.0 * width : double(width);
    return o;
  }
  Op dropout(std::string name) {
    Op o = elementwise(std::move(name), m.hidden, 0, Split::none);
    o.dropout = true;
    o.saved_bytes_per_token = double(m.hidden);  // 1-byte mask
    return o;
  }
  // Rotary positions (Llama lineage), Megatron-Core's fused RoPE: forward reads the rotated query
  // and key widths and writes them back (2 x 2 B per element); backward does the same to their
  // gradients. Nothing saved (the attention keeps the rotated Q and K; cos/sin are a table).
  Op rope(std::string name, int64_t width) {
    Op o = elementwise(std::move(name), width, 0, Split::heads);
    o.tp_replicated = o.saved_replicated = false;
    return o;
  }
  // Qwen3's per-head RMSNorm of queries and keys: a norm over the query and key widths, split by
  // heads, keeping its input for backward. Its weights (head_dim each for q and k) stay out of the
  // parameter convention (docs/model-spec.md), as they are under 0.01% of a model.
  Op qk_norm(std::string name, int64_t width) {
    Op o = elementwise(std::move(name), width, double(width), Split::heads);
    o.kind = OpKind::norm;
    o.tp_replicated = o.saved_replicated = false;
    return o;
  }
  void residual(const std::string& name) {
    add(elementwise(name, m.hidden, 0, Split::none), kAct * m.hidden);
  }

  void attention(const std::string& p, int64_t window) {
    const int64_t h = m.hidden, a = m.heads, kv = m.kv_heads;
    const int64_t dq = m.q_head_dim(), dv = m.v_head_dim();
    add(norm(p + ".attn_norm", h), kAct * h);
    if (m.attention.kind == "mla") {
      const auto& at = m.attention;
      // Down-projections are not split by TP in Megatron-Core's MLA: every TP rank computes them.
      if (at.q_lora_rank > 0) {
        add(matmul(p + ".q_down", at.q_lora_rank, h, Split::none, false), kAct * h);
        add(norm(p + ".q_norm", at.q_lora_rank), kAct * at.q_lora_rank);
        add(matmul(p + ".q_up", a * dq, at.q_lora_rank, Split::columns, false), kAct * at.q_lora_rank);
      } else {
        add(matmul(p + ".q_proj", a * dq, h, Split::columns, false), kAct * h);
      }
      add(matmul(p + ".kv_down", at.kv_lora_rank + at.qk_rope_head_dim, h, Split::none, false), kAct * h);
      add(norm(p + ".kv_norm", at.kv_lora_rank), kAct * at.kv_lora_rank);
      add(matmul(p + ".kv_up", a * (at.qk_nope_head_dim + dv), at.kv_lora_rank, Split::columns, false),
          kAct * at.kv_lora_rank);
      // MLA rotates the rope part of every query head and the one shared rope key.
      add(rope(p + ".rope", (a + 1) * at.qk_rope_head_dim), kAct * a * (at.qk_nope_head_dim + dv));
    } else {
      Op qkv = matmul(p + ".qkv", (a + 2 * kv) * dq, h, Split::columns, bias);
      qkv.linear_outputs = {a * dq, kv * dq, kv * dq};  // wq, wk, wv
      add(qkv, kAct * h);
      if (m.qk_norm) add(qk_norm(p + ".qk_norm", (a + kv) * dq), kAct * (a + 2 * kv) * dq);
      if (!gpt) add(rope(p + ".rope", (a + kv) * dq), kAct * (a + 2 * kv) * dq);
    }
    Op at;
    at.name = p + ".attn_core";
    at.kind = OpKind::attention;
    at.split = Split::heads;
    const int64_t kv_eff = m.attention.kind == "mla" ? a : kv;  // MLA expands K/V per head
    at.dims = {a, kv_eff, dq, dv};
    if (window > 0) at.dims.push_back(window);  // sliding window: a fifth dim (op-graph format)
    derive_op_costs(at, m.seq_len);  // keys per query under the window; saves Q, K, V
    if (m.attention.sinks) at.params = double(a);  // one learned softmax offset per head
    add(at, kAct * (a * dq + kv_eff * (dq + dv)));
    add(matmul(p + ".attn_out", h, a * dv, Split::rows, bias), kAct * a * dv);
    if (gpt) add(dropout(p + ".attn_dropout"), kAct * h);
    if (m.post_norms) add(norm(p + ".attn_post_norm", h), kAct * h);
    residual(p + ".attn_residual");
  }

  void ffn(const std::string& p, int64_t f, Split split, const std::string& tag, double token_factor) {
    const int64_t h = m.hidden;
    const bool glu = m.gated_ffn();
    Op fc1 = matmul(p + "." + tag + "fc1", glu ? 2 * f : f, h, split, bias);
    if (glu) fc1.linear_outputs = {f, f};  // w1 (gate), w3 (up)
    Op act = elementwise(p + "." + tag + "act", f, glu ? 2.0 * f : double(f), Split::columns);
    act.bytes_per_token = kAct * (glu ? 3 : 2) * f;
    Op fc2 = matmul(p + "." + tag + "fc2", h, f, split == Split::columns ? Split::rows : split, bias);
    if (split == Split::experts) {
      const auto& moe = *m.moe;
      for (Op* o : {&fc1, &fc2}) {
        o->kind = OpKind::expert_matmul;
        o->dims.push_back(moe.experts);
        o->dims.push_back(moe.top_k);
        o->params *= double(moe.experts);
        o->saved_replicated = false;
      }
      act.split = Split::experts;
    }
    for (Op* o : {&fc1, &act, &fc2}) {
      o->token_factor = token_factor;
      o->fwd_flops_per_token *= token_factor;
      o->bwd_flops_per_token *= token_factor;
      o->bytes_per_token *= token_factor;
      o->saved_bytes_per_token *= token_factor;
    }
    add(fc1, kAct * h);
    add(act, kAct * (glu ? 2 : 1) * f);
    add(fc2, kAct * f);
  }

  void mlp(const std::string& p, int64_t layer) {
    const int64_t h = m.hidden;
    add(norm(p + ".mlp_norm", h), kAct * h);
    if (m.is_moe_layer(layer)) {
      const auto& moe = *m.moe;
      Op r;
      r.name = p + ".router";
      r.kind = OpKind::router;
      r.dims = {moe.experts, h};
      r.params = double(moe.experts) * h + (bias ? double(moe.experts) : 0);
      r.fwd_flops_per_token = 2.0 * moe.experts * h;
      r.bwd_flops_per_token = 4.0 * moe.experts * h;
      r.bytes_per_token = kAct * (h + moe.experts);
      r.saved_bytes_per_token = 4.0 * moe.experts;  // fp32 routing probabilities
      add(r, kAct * h);
      // Token dispatch around the experts (Megatron-Core's permute / unpermute): the gather of
      // each token's top_k copies (read + write 2 B per element of k x h: 4 k h B) and the
      // probability-weighted combine with its scatter-add back to h (about 6 k h B) forward; the
      // backward mirrors them (about 14 k h B, here twice the forward's 8 k h). The weighted
      // combine keeps the experts' outputs (k x h, 16-bit) for the probabilities' gradient.
      Op dispatch = elementwise(p + ".moe_dispatch", h, 0, Split::experts);
      dispatch.bytes_per_token = 8.0 * double(moe.top_k) * h;
      dispatch.saved_bytes_per_token = kAct * double(moe.top_k) * h;
      add(dispatch, kAct * h);
      ffn(p, moe.ffn_hidden, Split::experts, "expert_", double(moe.top_k));
      if (moe.shared_experts > 0) ffn(p, moe.ffn_hidden * moe.shared_experts, Split::columns, "shared_", 1);
    } else {
      ffn(p, m.ffn_hidden, Split::columns, "", 1);
    }
    if (gpt) add(dropout(p + ".mlp_dropout"), kAct * h);
    if (m.post_norms) add(norm(p + ".mlp_post_norm", h), kAct * h);
    residual(p + ".mlp_residual");
  }
};
}  // namespace

OpGraph build_transformer_graph(const ModelSpec& m) {
  Builder b{m, OpGraph{}, m.learned_positions(), m.learned_positions() || m.linear_bias};
  b.gr.name = m.name;
  b.gr.seq_len = m.seq_len;
  b.gr.hidden = m.hidden;
  const int64_t h = m.hidden;

  b.block("embedding", "embedding");
  Op emb;
  emb.name = "embedding";
  emb.kind = OpKind::embedding;
  emb.split = Split::vocab;
  emb.dims = {m.vocab, h};
  emb.params = double(m.vocab) * h + (b.gpt ? double(m.seq_len) * h : 0);
  emb.bytes_per_token = kAct * h;
  b.add(emb, 0);
  if (b.gpt) b.add(b.dropout("embedding_dropout"), kAct * h);

  for (int64_t l = 0; l < m.layers; ++l) {
    std::string p = "layer" + std::to_string(l);
    const int64_t window = m.layer_window(l);
    b.block(p, std::string(m.is_moe_layer(l) ? "moe_layer" : "dense_layer") +
                   (window > 0 ? "_window" + std::to_string(window) : ""));
    b.attention(p, window);
    b.mlp(p, l);
  }

  b.block("head", "head");
  b.add(b.norm("final_norm", h), kAct * h);
  Op head = b.matmul("lm_head", m.vocab, h, Split::vocab, false);
  head.saved_replicated = true;
  if (m.tied_embeddings) {
    head.params = 0;  // shares the embedding's weights
    b.gr.tied_output_params = double(m.vocab) * h;
  }
  b.add(head, kAct * h);
  if (m.logit_softcap) {
    // cap * tanh(logits / cap) on the 16-bit logits, split over the vocabulary like them; its
    // backward needs the tanh, so the capped logits are kept (2 B per logit).
    b.add(b.elementwise("logit_softcap", m.vocab, double(m.vocab), Split::vocab), kAct * m.vocab);
  }
  Op loss;
  loss.name = "cross_entropy";
  loss.kind = OpKind::loss;
  loss.split = Split::vocab;
  loss.dims = {m.vocab};
  loss.bytes_per_token = 4.0 * m.vocab * 2;       // fp32 logits read, softmax written
  loss.saved_bytes_per_token = 4.0 * m.vocab;     // fp32 softmax kept for backward
  b.add(loss, kAct * m.vocab);
  b.gr.finalize();
  return std::move(b.gr);
}

}  // namespace shardplan
