// The transformer builder against closed forms: FLOPs (Korthikanti et al. 2022, eq. 7), parameter
// counts (Narayanan et al. 2021, §5.1), saved activations (Korthikanti Table 2).
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "core/error.hpp"
#include "core/model_spec.hpp"
#include "graph/model_loader.hpp"
#include "graph/model_stats.hpp"
#include "graph/op_costs.hpp"
#include "graph/transformer_builder.hpp"

using namespace shardplan;

namespace {
ModelSpec gpt(int64_t L, int64_t h, int64_t a, int64_t V = 51200, int64_t s = 2048) {
  ModelSpec m;
  m.name = "gpt";
  m.layers = L;
  m.hidden = h;
  m.heads = a;
  m.kv_heads = a;
  m.head_dim = h / a;
  m.ffn_hidden = 4 * h;
  m.vocab = V;
  m.seq_len = s;
  m.tied_embeddings = true;  // Megatron GPT shares the word embedding with the output layer
  return m;
}

// The ops of `block` named `name`.
std::vector<const Op*> ops_named(const OpGraph& g, size_t block, const std::string& name) {
  std::vector<const Op*> out;
  for (int64_t v : g.blocks[block].ops)
    if (g.op(v).name == name) out.push_back(&g.op(v));
  return out;
}
}  // namespace

TEST_CASE("training FLOPs per token match Korthikanti eq. 7") {
  // eq. 7 per iteration: 72 B L s h^2 (1 + s/(6h) + V/(12 h L)); per token divide by B s.
  ModelSpec m = gpt(96, 12288, 96);
  ModelStats st = model_stats(build_transformer_graph(m));
  double L = 96, h = 12288, s = 2048, V = 51200;
  double expected = 72 * L * h * h * (1 + s / (6 * h) + V / (12 * h * L));
  CHECK(st.train_flops_per_token == testing::rel(expected).epsilon(1e-9));
}

TEST_CASE("GPT-3 175B has 174.6B parameters") {
  // Narayanan §5.1: P = 12 l h^2 (1 + 13/(12h) + (V + s)/(12 l h)) = 174.6B for GPT-3.
  ModelSpec m = gpt(96, 12288, 96);
  ModelStats st = model_stats(build_transformer_graph(m));
  double l = 96, h = 12288, V = 51200, s = 2048;
  double p = 12 * l * h * h * (1 + 13 / (12 * h) + (V + s) / (12 * l * h));
  CHECK(st.params == testing::rel(p).epsilon(1e-4));
  CHECK(st.params / 1e9 == testing::rel(174.6).epsilon(0.001));
}

TEST_CASE("a GPT layer saves 34 s b h bytes with fused attention (Korthikanti Table 2)") {
  // Table 2, no parallelism: s b h (34 + 5 a s / h); the 5 a s / h term is the unfused
  // attention's scores, which the cost model adds when flash attention is off.
  ModelSpec m = gpt(2, 1024, 16, 1000, 512);
  OpGraph g = build_transformer_graph(m);
  const Block& layer = g.blocks[1];
  CHECK(layer.saved_bytes_per_token == testing::rel(34.0 * 1024));
}

TEST_CASE("the builder's matmuls and attention cost what the op-graph format derives from their dims") {
  // One spelling of the per-token costs: an op written to an op-graph file and read back costs the
  // same. Biases are the builder's only addition (n per GPT matmul).
  ModelSpec m = gpt(2, 256, 4, 1000, 128);
  m.attention.window = 32;  // a windowed layer too: the fifth dim
  OpGraph g = build_transformer_graph(m);
  int checked = 0;
  for (size_t v = 0; v < g.op_count(); ++v) {
    const Op& o = g.op(int64_t(v));
    if (o.kind != OpKind::matmul && o.kind != OpKind::attention) continue;
    CAPTURE(o.name);
    Op d;
    d.kind = o.kind;
    d.split = o.split;
    d.dims = o.dims;
    derive_op_costs(d, m.seq_len);
    CHECK(o.fwd_flops_per_token == d.fwd_flops_per_token);
    CHECK(o.bwd_flops_per_token == d.bwd_flops_per_token);
    CHECK(o.saved_bytes_per_token == d.saved_bytes_per_token);
    CHECK(o.saved_replicated == d.saved_replicated);
    // Biases on GPT's matmuls; the tied head's weights are the embedding's (counted there).
    const double extra = o.name == "lm_head" ? -d.params : o.kind == OpKind::matmul ? double(o.dims[0]) : 0.0;
    CHECK(o.params - d.params == extra);
    checked++;
  }
  CHECK(checked == 2 * 5 + 1);  // qkv, attention, proj, fc1, fc2 per layer; the head
  // The vocabulary-parallel head is a column-parallel linear (Megatron's ColumnParallelLinear): it
  // keeps its whole input on every TP rank unless sequence parallelism shards it.
  CHECK(g.op(g.op_count() - 2).name == "lm_head");
  CHECK(g.op(g.op_count() - 2).saved_replicated);
}

TEST_CASE("blocks: embedding, one per layer, head; boundaries carry the residual stream") {
  ModelSpec m = gpt(4, 256, 4, 1000, 128);
  OpGraph g = build_transformer_graph(m);
  REQUIRE(g.blocks.size() == 6);
  CHECK(g.blocks.front().name == "embedding");
  CHECK(g.blocks[1].type == "dense_layer");
  CHECK(g.blocks.back().name == "head");
  CHECK(g.blocks[1].boundary_bytes_per_token == testing::rel(2.0 * 256));
  CHECK(topological_order(g).size() == g.op_count());
}

TEST_CASE("SwiGLU with GQA: Llama-3 8B counts 8.03B parameters") {
  ModelSpec m;
  m.name = "llama3-8b";
  m.layers = 32;
  m.hidden = 4096;
  m.heads = 32;
  m.kv_heads = 8;
  m.head_dim = 128;
  m.ffn_hidden = 14336;
  m.ffn_act = "swiglu";
  m.norm = "rmsnorm";
  m.vocab = 128256;
  m.seq_len = 8192;
  ModelStats st = model_stats(build_transformer_graph(m));
  // 2 * 128256 * 4096 embeddings + 32 * (4096*(4096+2*1024+4096) + 3*4096*14336 + 2*4096) + 4096
  double per_layer = 4096.0 * (4096 + 2 * 1024) + 4096.0 * 4096 + 3.0 * 4096 * 14336 + 2 * 4096;
  double expected = 2.0 * 128256 * 4096 + 32 * per_layer + 4096;
  CHECK(st.params == testing::rel(expected));
  CHECK(st.params / 1e9 == testing::rel(8.03).epsilon(0.002));
}

TEST_CASE("MoE: active parameters count top_k routed experts plus shared") {
  ModelSpec m;
  m.name = "moe";
  m.layers = 2;
  m.hidden = 64;
  m.heads = 4;
  m.kv_heads = 4;
  m.head_dim = 16;
  m.ffn_hidden = 128;
  m.ffn_act = "swiglu";
  m.norm = "rmsnorm";
  m.vocab = 100;
  m.seq_len = 32;
  m.moe = MoeSpec{8, 2, 32, 1, 1};
  ModelStats st = model_stats(build_transformer_graph(m));
  // Layer 1 is MoE: 8 experts of 3*64*32 params, router 8*64, one shared expert of 3*64*32.
  double expert = 3.0 * 64 * 32;
  double dense_ffn = 3.0 * 64 * 128;
  double attn = 4.0 * 64 * 64 + 2 * 64;  // q,k,v,o + 2 rmsnorms
  double total = 2 * 100 * 64 + 64 + 2 * attn + dense_ffn + 8 * expert + 8 * 64 + expert;
  CHECK(st.params == testing::rel(total));
  CHECK(st.params - st.active_params == testing::rel(6 * expert));
}

TEST_CASE("rotary positions: a fused RoPE op on Q and K in Llama-lineage layers, none in GPT's") {
  // Llama 3 8B's layer: 32 query heads and 8 KV heads of 128. RoPE rotates Q and K: (32 + 8) x 128
  // = 5120 elements per token, read and written in 16 bits: 2 x 2 x 5120 = 20,480 B per token,
  // split over TP by heads, nothing saved.
  ModelSpec m = gpt(1, 4096, 32, 128256, 8192);
  m.kv_heads = 8, m.head_dim = 128, m.ffn_hidden = 14336, m.ffn_act = "swiglu", m.norm = "rmsnorm";
  const OpGraph g = build_transformer_graph(m);
  const auto rope = ops_named(g, 1, "layer0.rope");
  REQUIRE(rope.size() == 1);
  const Op& o = *rope[0];
  CHECK(o.kind == OpKind::elementwise);
  CHECK(o.split == Split::heads);
  CHECK(o.bytes_per_token == 20480.0);
  CHECK(o.saved_bytes_per_token == 0.0);
  CHECK_FALSE(o.tp_replicated);
  // GPT lineage: learned positions, no rotary op.
  CHECK(ops_named(build_transformer_graph(gpt(1, 4096, 32)), 1, "layer0.rope").empty());
}

TEST_CASE("qk_norm: a per-head norm of Q and K that keeps its input, no parameters counted") {
  // Qwen3-30B-A3B's attention: 32 query and 4 KV heads of 128: the norm covers (32 + 4) x 128 =
  // 4608 elements per token, reads and writes them (2 x 2 x 4608 = 18,432 B per token) and keeps
  // its 16-bit input (9,216 B per token), split over TP by heads.
  ModelSpec m = gpt(1, 2048, 32, 151936, 4096);
  m.kv_heads = 4, m.head_dim = 128, m.ffn_hidden = 6144, m.ffn_act = "swiglu", m.norm = "rmsnorm";
  const double without = model_stats(build_transformer_graph(m)).params;
  m.qk_norm = true;
  const OpGraph g = build_transformer_graph(m);
  const auto norm = ops_named(g, 1, "layer0.qk_norm");
  REQUIRE(norm.size() == 1);
  const Op& o = *norm[0];
  CHECK(o.kind == OpKind::norm);
  CHECK(o.split == Split::heads);
  CHECK(o.bytes_per_token == 18432.0);
  CHECK(o.saved_bytes_per_token == 9216.0);
  CHECK(o.params == 0.0);
  CHECK(model_stats(g).params == without);
}

TEST_CASE("qk_norm: Qwen3's Hugging Face configs set it, Llama's does not") {
  for (const auto& [file, expected] : std::vector<std::pair<std::string, bool>>{
           {"qwen3", true}, {"qwen3_moe", true}, {"llama", false}, {"mixtral", false}}) {
    CAPTURE(file);
    const LoadedModel m = load_model(std::string(SHARDPLAN_SOURCE_DIR) + "/tests/data/hf/" + file + ".json");
    REQUIRE(m.spec);
    CHECK(m.spec->qk_norm == expected);
  }
}

TEST_CASE("sliding window: windowed layers cost their window's keys, global ones the whole prefix") {
  // Gemma 2's pattern on a small model: windows of 1024 on even layers, every second layer global.
  ModelSpec m = gpt(4, 1024, 8, 32000, 8192);
  const double full_attention = 2.0 * 8192 * 8 * (128 + 128);  // per token, heads x (qk + v)
  m.attention.window = 1024;
  m.attention.global_every = 2;
  const OpGraph g = build_transformer_graph(m);
  REQUIRE(g.blocks.size() == 6);
  // keys per query at 8192 tokens, window 1024: (1024*1025 + 2*7168*1024) / 8193.
  const double keys = (1024.0 * 1025 + 2.0 * 7168 * 1024) / 8193;
  const auto local = ops_named(g, 1, "layer0.attn_core"), global = ops_named(g, 2, "layer1.attn_core");
  REQUIRE(local.size() == 1);
  REQUIRE(global.size() == 1);
  CHECK(local[0]->dims.size() == 5);
  CHECK(local[0]->dims[4] == 1024);
  CHECK(local[0]->fwd_flops_per_token == testing::rel(2.0 * keys * 8 * 256));
  CHECK(global[0]->dims.size() == 4);
  CHECK(global[0]->fwd_flops_per_token == testing::rel(full_attention));
  // Windowed and global layers cost differently, so they are different block types.
  CHECK(g.blocks[1].type != g.blocks[2].type);
  CHECK(g.blocks[1].type == g.blocks[3].type);
  // Parameters are the same with or without the window.
  ModelSpec plain = m;
  plain.attention = AttentionSpec{};
  CHECK(model_stats(g).params == model_stats(build_transformer_graph(plain)).params);
}

TEST_CASE("Gemma 2 from its Hugging Face config: GeGLU, four norms a layer, softcapped logits") {
  // google/gemma-2-9b's config.json (the fields with a cost): 9,241,705,984 parameters by HF's
  // count, reproduced exactly: embedding 256000 x 3584 (tied) + 42 x (q 3584x4096 + k, v 3584x2048
  // + o 4096x3584 + 3 x 3584x14336 + 4 norms of 3584) + the final norm.
  const std::string config = R"({"model_type":"gemma2","hidden_size":3584,"intermediate_size":14336,
    "num_attention_heads":16,"num_key_value_heads":8,"head_dim":256,"num_hidden_layers":42,
    "vocab_size":256000,"max_position_embeddings":8192,"hidden_activation":"gelu_pytorch_tanh",
    "hidden_act":"gelu_pytorch_tanh","sliding_window":4096,"final_logit_softcapping":30.0,
    "attn_logit_softcapping":50.0,"query_pre_attn_scalar":256})";
  const LoadedModel m = load_model_text(config, "gemma-2-9b.json");
  REQUIRE(m.spec);
  CHECK(m.spec->ffn_act == "geglu");
  CHECK(m.spec->tied_embeddings);
  CHECK(m.spec->post_norms);
  CHECK(m.spec->logit_softcap);
  CHECK_FALSE(m.spec->qk_norm);
  CHECK(m.spec->attention.window == 4096);
  CHECK(m.spec->attention.global_every == 2);
  CHECK(model_stats(m.graph).params == 9241705984.0);
  // Layer 0 windowed, layer 1 global; each with norms after the attention and the FFN.
  CHECK(m.spec->layer_window(0) == 4096);
  CHECK(m.spec->layer_window(1) == 0);
  CHECK(ops_named(m.graph, 1, "layer0.attn_post_norm").size() == 1);
  CHECK(ops_named(m.graph, 1, "layer0.mlp_post_norm").size() == 1);
  // GeGLU is three matrices like SwiGLU: fc1 (gate and up) 2 x 14336 wide.
  const auto fc1 = ops_named(m.graph, 1, "layer0.fc1");
  REQUIRE(fc1.size() == 1);
  CHECK(fc1[0]->dims[0] == 2 * 14336);
  // The softcap: an elementwise pass over the logits (read + write 2 B each), split like them,
  // keeping its 16-bit output.
  const auto cap = ops_named(m.graph, m.graph.blocks.size() - 1, "logit_softcap");
  REQUIRE(cap.size() == 1);
  CHECK(cap[0]->split == Split::vocab);
  CHECK(cap[0]->bytes_per_token == 4.0 * 256000);
  CHECK(cap[0]->saved_bytes_per_token == 2.0 * 256000);
  // google/gemma-2-2b: 2,614,341,888.
  std::string small = config;
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"3584", "2304"}, {"14336", "9216"}, {"\"num_attention_heads\":16", "\"num_attention_heads\":8"},
           {"\"num_key_value_heads\":8", "\"num_key_value_heads\":4"}, {"\"num_hidden_layers\":42", "\"num_hidden_layers\":26"}})
    small.replace(small.find(from), from.size(), to);
  CHECK(model_stats(load_model_text(small, "gemma-2-2b.json").graph).params == 2614341888.0);
}

TEST_CASE("Gemma 3: one global layer in six, from sliding_window_pattern or layer_types; q/k norms") {
  const std::string base = R"({"model_type":"gemma3_text","hidden_size":256,"intermediate_size":512,
    "num_attention_heads":4,"num_key_value_heads":2,"head_dim":64,"num_hidden_layers":12,
    "vocab_size":1000,"max_position_embeddings":4096,"sliding_window":512,"rope_theta":1000000)";
  const LoadedModel a = load_model_text(base + "}", "g3.json");
  REQUIRE(a.spec);
  CHECK(a.spec->qk_norm);
  CHECK_FALSE(a.spec->logit_softcap);
  CHECK(a.spec->attention.global_every == 6);
  CHECK(a.spec->layer_window(4) == 512);
  CHECK(a.spec->layer_window(5) == 0);
  std::string types = ",\"layer_types\":[";
  for (int i = 0; i < 12; ++i)
    types += std::string(i ? "," : "") + ((i + 1) % 4 == 0 ? "\"full_attention\"" : "\"sliding_attention\"");
  const LoadedModel b = load_model_text(base + types + "]}", "g3.json");
  CHECK(b.spec->attention.global_every == 4);
  try {
    load_model_text(base + R"(,"layer_types":["full_attention","sliding_attention"]})", "g3.json");
    FAIL("a layer_types list that is not periodic over the layers must be refused");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("g3.json: at /layer_types: expected num_hidden_layers entries") == 0);
  }
  try {
    load_model_text(base + R"(,"hidden_activation":"silu"})", "g3.json");
    FAIL("a Gemma with a SiLU activation must be refused");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("g3.json: at /hidden_activation: expected a GELU") == 0);
  }
}

TEST_CASE("gpt-oss from its Hugging Face config: biased linears, sinks, clamped quick-GEGLU experts, windows") {
  // A two-layer cut of openai/gpt-oss-120b's config (tests/data/hf/gpt_oss.json has the whole).
  // Per layer by hand: q 2880x4096 + 4096, k and v 2880x512 + 512 each, o 4096x2880 + 2880, 64
  // sinks: 26,550,144; router 2880x128 + 128: 368,768; 128 experts of (2880x5760 + 5760) +
  // (2880x2880 + 2880): 3,186,155,520; 2 norms 5,760. Two layers 6,426,160,384, embedding and head
  // 2 x 201088 x 2880 = 1,158,266,880, final norm 2,880: 7,584,430,144.
  const std::string config = R"({"model_type":"gpt_oss","hidden_size":2880,"intermediate_size":2880,
    "num_attention_heads":64,"num_key_value_heads":8,"head_dim":64,"num_hidden_layers":2,
    "num_local_experts":128,"num_experts_per_tok":4,"vocab_size":201088,"max_position_embeddings":131072,
    "sliding_window":128,"layer_types":["sliding_attention","full_attention"],"attention_bias":true,
    "swiglu_limit":7.0,"hidden_act":"silu","tie_word_embeddings":false,"rope_theta":150000})";
  const LoadedModel m = load_model_text(config, "gpt-oss.json", 4096);
  REQUIRE(m.spec);
  CHECK(m.spec->ffn_act == "quick_geglu");
  CHECK(m.spec->glu_linear_offset == 1);
  CHECK(m.spec->ffn_clamp == 7);
  CHECK(m.spec->linear_bias);
  CHECK(m.spec->attention.sinks);
  CHECK(m.spec->attention.window == 128);
  CHECK(m.spec->attention.global_every == 2);
  CHECK(m.spec->layer_window(0) == 128);
  CHECK(m.spec->layer_window(1) == 0);
  CHECK(model_stats(m.graph).params == 7584430144.0);
  // Without layer_types the layers alternate the same way (GptOssConfig's default).
  std::string no_types = config;
  const std::string lt = R"("layer_types":["sliding_attention","full_attention"],)";
  no_types.erase(no_types.find(lt), lt.size());
  CHECK(load_model_text(no_types, "gpt-oss.json").spec->attention.global_every == 2);
  // attention_bias false cannot be said (experts and router keep theirs): refused at its key.
  std::string unbiased = config;
  unbiased.replace(unbiased.find("\"attention_bias\":true"), 21, "\"attention_bias\":false");
  CHECK_THROWS_WITH_AS(load_model_text(unbiased, "gpt-oss.json"), doctest::Contains("at /attention_bias: expected true"),
                       InputError);
  // A layer_types list that is not periodic is refused as for Gemma 3.
  std::string odd = config;
  odd.replace(odd.find(R"(["sliding_attention","full_attention"])"), 38, R"(["full_attention","sliding_attention"])");
  CHECK_THROWS_WITH_AS(load_model_text(odd, "gpt-oss.json"), doctest::Contains("at /layer_types"), InputError);
}

TEST_CASE("RoPE from Hugging Face configs: rope_theta and rope_scaling, or transformers v5's rope_parameters") {
  auto hf = [](const std::string& file) {
    return *load_model(std::string(SHARDPLAN_SOURCE_DIR) + "/tests/data/hf/" + file + ".json").spec;
  };
  // Meta-Llama-3-8B: base 500000, rope_scaling null.
  CHECK(hf("llama").rope.theta == 500000);
  CHECK(hf("llama").rope.scaling.type.empty());
  CHECK(hf("mixtral").rope.theta == 1e6);
  // DeepSeek-V3's YaRN ("type": "yarn", factor 40 over 4096 positions, mscale 1 and 1).
  const RopeSpec ds = hf("deepseek_v3").rope;
  CHECK(ds.theta == 10000);
  CHECK(ds.scaling.type == "yarn");
  CHECK(ds.scaling.factor == 40);
  CHECK(ds.scaling.original_max_position == 4096);
  CHECK(ds.scaling.mscale_all_dim == 1);
  // gpt-oss names it "rope_type" (and carries "truncate", which changes nothing here).
  const RopeSpec oss = hf("gpt_oss").rope;
  CHECK(oss.theta == 150000);
  CHECK(oss.scaling.type == "yarn");
  CHECK(oss.scaling.factor == 32);
  CHECK(oss.scaling.mscale_all_dim == 0);
  // GPT-2 has learned positions: nothing to read.
  CHECK(hf("gpt2").rope == RopeSpec{});

  const std::string llama = R"({"model_type":"llama","hidden_size":256,"intermediate_size":512,
    "num_attention_heads":4,"num_hidden_layers":2,"vocab_size":1000,"max_position_embeddings":4096)";
  // Llama 3.1's scaling; and transformers v5's rope_parameters holding base and scaling together.
  const RopeSpec l31 = load_model_text(llama + R"(,"rope_theta":500000.0,"rope_scaling":{"factor":8.0,
    "low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"}})",
                                       "l.json").spec->rope;
  CHECK(l31.scaling.type == "llama3");
  CHECK(l31.scaling.high_freq_factor == 4);
  const RopeSpec v5 = load_model_text(llama + R"(,"rope_parameters":{"rope_theta":500000.0,"factor":8.0,
    "low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"}})",
                                      "l.json").spec->rope;
  CHECK(v5 == l31);
  CHECK(load_model_text(llama + R"(,"rope_parameters":{"rope_theta":1e6,"rope_type":"default"}})", "l.json")
            .spec->rope == RopeSpec{1e6, {}});
  CHECK(load_model_text(llama + "}", "l.json").spec->rope.theta == 10000);  // LlamaConfig's default
  auto error = [&](const std::string& text) {
    try {
      load_model_text(text, "c.json");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error(llama + R"(,"rope_scaling":{"rope_type":"mrope","factor":2}})").find("at /rope_scaling/rope_type") !=
        std::string::npos);
  CHECK(error(llama + R"(,"rope_scaling":{"type":"yarn","factor":4}})")
            .find("at /rope_scaling/original_max_position_embeddings: missing") != std::string::npos);
  CHECK(error(llama + R"(,"rope_theta":-1})").find("at /rope_theta") != std::string::npos);
  // transformers v5 nests rope_parameters per layer type (Gemma 3): the full-attention layers'.
  const std::string g3 = R"({"model_type":"gemma3_text","hidden_size":256,"intermediate_size":512,
    "num_attention_heads":4,"num_key_value_heads":2,"head_dim":64,"num_hidden_layers":12,
    "vocab_size":1000,"max_position_embeddings":4096,"sliding_window":512,"rope_parameters":{
    "full_attention":{"rope_theta":1000000.0,"rope_type":"linear","factor":8.0},
    "sliding_attention":{"rope_theta":10000.0,"rope_type":"default"}}})";
  const RopeSpec g3r = load_model_text(g3, "g3.json").spec->rope;
  CHECK(g3r.theta == 1e6);
  CHECK(g3r.scaling.type == "linear");
  CHECK(g3r.scaling.factor == 8);
  // Phi-3's legacy "su" (and "yarn") scaling is its longrope, as Phi3Config renames it.
  const std::string phi3 = R"({"model_type":"phi3","hidden_size":256,"intermediate_size":512,
    "num_attention_heads":4,"num_hidden_layers":2,"vocab_size":1000,"max_position_embeddings":4096,
    "original_max_position_embeddings":4096,"rope_scaling":{"type":"su","long_factor":[1.0],"short_factor":[1.0]}})";
  CHECK(load_model_text(phi3, "phi3.json").spec->rope.scaling.type == "longrope");
  // Mixtral's class default is 1e6, not 10000: an absent key would be a silently other model.
  std::string mixtral = llama;
  mixtral.replace(mixtral.find("\"llama\""), 7, "\"mixtral\"");
  CHECK(error(mixtral + R"(,"num_key_value_heads":4,"num_local_experts":8,"num_experts_per_tok":2})")
            .find("at /rope_theta: expected \"rope_theta\" in the config") != std::string::npos);
}
