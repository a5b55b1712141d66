// Megatron-LM (core_v0.15.0, megatron/training/arguments.py) arguments for a plan, as a bash
// script that launches pretrain_gpt.py with torchrun. Flag names and the checks that reject a
// combination are those of that release; docs/plan-format.md lists them with their sources.
#include <fmt/format.h>

#include "plan/emit.hpp"
#include "plan/emit_common.hpp"
#include "plan/framework_rules.hpp"

namespace shardplan {

namespace {
using Args = std::vector<std::string>;

void add(Args& a, const std::string& flag, const std::string& value = "") {
  a.push_back(value.empty() ? flag : flag + " " + value);
}
std::string n(int64_t v) {
  return std::to_string(v);
}

// --pipeline-model-parallel-layout: one "|"-separated entry per chunk in model order (chunk c =
// v*pp + stage, as Megatron's PipelineParallelLayerLayout reads it); E embedding, t*k k layers, L
// loss.
std::string layout_string(const Plan& p) {
  std::string out;
  for (const auto& c : emit::chunk_blocks(p)) {
    if (!out.empty()) out += "|";
    if (c.embedding) out += "E";
    if (c.layers == 1) out += "t";
    if (c.layers > 1) out += "t*", out += n(c.layers);
    if (c.head) out += "L";
  }
  return out;
}

// RoPE's base and context scaling. Megatron reads the base as an integer (--rotary-base, default
// 10000). What pretrain_gpt.py hands GPTModel (gpt_builders.py): the base and --use-rope-scaling,
// Llama 3.1's scaling with its factor 8, low and high frequency factors 1 and 4 and 8192 original
// positions at GPTModel's defaults (--rope-scaling-factor and the linear
// --rotary-seq-len-interpolation-factor reach no model there); and on MLA, YaRN
// (--rotary-scaling-factor, --mscale, --mscale-all-dim through MLATransformerConfig, with 4096
// original positions and betas 32 and 1 fixed; --position-embedding-type has no "yarn"). Dynamic
// NTK scaling changes nothing up to the trained context, so nothing is said of it.
void rope_args(const ModelSpec& m, Args& a, std::vector<std::string>& notes) {
  add(a, "--rotary-base", emit::rope_base_arg(m, "Megatron's --rotary-base", notes));
  const RopeScaling& sc = m.rope.scaling;
  auto unexpressed = [&](const std::string& what) {
    notes.push_back(fmt::format("the model's {} RoPE scaling (factor {}) {}; set it in the model's "
                                "TransformerConfig by hand or the run trains other positions",
                                sc.type, sc.factor, what));
  };
  if (sc.type == "llama3") {
    add(a, "--use-rope-scaling");
    if (sc.factor != 8 || sc.low_freq_factor != 1 || sc.high_freq_factor != 4 || sc.original_max_position != 8192)
      unexpressed(fmt::format("has low/high frequency factors {}/{} over {} positions, where Megatron's "
                              "pretrain_gpt.py fixes factor 8 and 1/4 over 8192",
                              sc.low_freq_factor, sc.high_freq_factor, sc.original_max_position));
  } else if (sc.type == "yarn" && m.attention.kind == "mla") {
    add(a, "--rotary-scaling-factor", fmt::format("{}", sc.factor));
    add(a, "--mscale", fmt::format("{}", sc.mscale));
    add(a, "--mscale-all-dim", fmt::format("{}", sc.mscale_all_dim));
    if (sc.original_max_position != 4096 || sc.beta_fast != 32 || sc.beta_slow != 1)
      unexpressed(fmt::format("has {} original positions and betas {}/{}, where Megatron's MLA fixes "
                              "4096 and 32/1",
                              sc.original_max_position, sc.beta_fast, sc.beta_slow));
  } else if (sc.changes_training()) {
    unexpressed("has no pretrain_gpt.py argument");
  }
}

Args model_args(const ModelSpec& m, std::vector<std::string>& notes) {
  Args a;
  add(a, "--num-layers", n(m.layers));
  add(a, "--hidden-size", n(m.hidden));
  add(a, "--num-attention-heads", n(m.heads));
  add(a, "--ffn-hidden-size", n(m.ffn_hidden));
  add(a, "--seq-length", n(m.seq_len));
  add(a, "--max-position-embeddings", n(m.seq_len));
  if (m.attention.kind == "mla") {
    add(a, "--multi-latent-attention");
    if (m.attention.q_lora_rank > 0) add(a, "--q-lora-rank", n(m.attention.q_lora_rank));
    add(a, "--kv-lora-rank", n(m.attention.kv_lora_rank));
    add(a, "--qk-head-dim", n(m.attention.qk_nope_head_dim));
    add(a, "--qk-pos-emb-head-dim", n(m.attention.qk_rope_head_dim));
    add(a, "--v-head-dim", n(m.attention.v_head_dim));
  } else {
    if (m.kv_heads != m.heads)
      add(a, "--group-query-attention"), add(a, "--num-query-groups", n(m.kv_heads));
    if (m.head_dim * m.heads != m.hidden) add(a, "--kv-channels", n(m.head_dim));
  }
  if (m.ffn_act == "swiglu") add(a, "--swiglu");
  if (m.ffn_act == "quick_geglu") add(a, "--quick-geglu");  // x * sigmoid(1.702 x) gate (gpt-oss)
  if (m.glu_linear_offset != 0) add(a, "--glu-linear-offset", fmt::format("{}", m.glu_linear_offset));
  if (m.ffn_clamp != 0) add(a, "--activation-func-clamp-value", fmt::format("{}", m.ffn_clamp));
  if (m.attention.sinks) add(a, "--softmax-type", "learnable");
  if (m.norm == "rmsnorm") add(a, "--normalization", "RMSNorm");
  if (m.qk_norm) add(a, "--qk-layernorm");  // normalises each query and key head (Qwen3)
  if (m.attention.window > 0) {
    // Transformer Engine's (left, right) window: the query and the window - 1 keys before it.
    add(a, "--window-size", fmt::format("{},0", m.attention.window - 1));
    if (m.attention.global_every > 0)  // one full-attention layer after every global_every - 1
      add(a, "--window-attn-skip-freq", n(m.attention.global_every));
  }
  if (!m.learned_positions()) {
    add(a, "--position-embedding-type", "rope");
    rope_args(m, a, notes);
    if (!m.linear_bias) add(a, "--disable-bias-linear");  // Megatron's linears have biases by default
  }
  if (!m.tied_embeddings) add(a, "--untie-embeddings-and-output-weights");
  if (m.moe) {
    add(a, "--num-experts", n(m.moe->experts));
    add(a, "--moe-router-topk", n(m.moe->top_k));
    add(a, "--moe-ffn-hidden-size", n(m.moe->ffn_hidden));
    if (m.moe->shared_experts > 0)
      add(a, "--moe-shared-expert-intermediate-size", n(m.moe->shared_experts * m.moe->ffn_hidden));
    if (m.moe->dense_layers > 0)
      add(a, "--moe-layer-freq",
          fmt::format("'([0]*{}+[1]*{})'", m.moe->dense_layers, m.layers - m.moe->dense_layers));
    // The local experts as one grouped GEMM (TE's GroupedLinear), as the plan prices them; without
    // it Megatron runs them one after another (SequentialMLP).
    add(a, "--moe-grouped-gemm");
  }
  return a;
}

Args parallel_args(const Plan& p, bool moe) {
  const Strategy& s = p.strategy;
  Args a;
  add(a, "--tensor-model-parallel-size", n(s.tp));
  add(a, "--pipeline-model-parallel-size", n(s.pp));
  add(a, "--context-parallel-size", n(s.cp));
  if (moe) {
    add(a, "--expert-model-parallel-size", n(s.ep)), add(a, "--expert-tensor-parallel-size", "1");
    // The plan prices EP dispatch and combine as all-to-all; Megatron's default dispatcher is
    // allgather (--moe-token-dispatcher-type, whose help recommends alltoall with EP).
    if (s.ep > 1) add(a, "--moe-token-dispatcher-type", "alltoall");
  }
  if (!emit::even_layer_split(p))
    add(a, "--pipeline-model-parallel-layout", fmt::format("'{}'", layout_string(p)));
  else if (s.vp > 1)
    add(a, "--num-layers-per-virtual-pipeline-stage", n(p.model.spec->layers / (s.pp * s.vp)));
  if (s.sp) add(a, "--sequence-parallel");
  if (s.tp_comm_overlap) add(a, "--tp-comm-overlap");
  // Megatron-Core >= 0.14: batch-level overlap of the EP all-to-all with another micro-batch's
  // compute, which needs the weight-gradient GEMMs delayed (moe/README.md).
  if (s.ep_comm_overlap) add(a, "--overlap-moe-expert-parallel-comm"), add(a, "--delay-wgrad-compute");
  // ZeRO-1 is the distributed optimizer; ZeRO-2/3 are Megatron-FSDP's sharding strategies, with
  // the flag set of docs/source/api-guide/custom_fsdp.md (its optimizer is still the distributed
  // optimizer, optimizer/__init__.py) and the fsdp_dtensor checkpoint format arguments.py asserts.
  if (s.zero == 1) add(a, "--use-distributed-optimizer");
  if (s.zero >= 2) {
    add(a, "--use-megatron-fsdp");
    add(a, "--data-parallel-sharding-strategy", s.zero == 2 ? "optim_grads" : "optim_grads_params");
    add(a, "--use-distributed-optimizer");
    add(a, "--no-gradient-accumulation-fusion");
    add(a, "--ckpt-format", "fsdp_dtensor");
  }
  if (s.overlap_grad_reduce) {
    add(a, "--overlap-grad-reduce");
    if (s.zero >= 1) add(a, "--overlap-param-gather");
  }
  return a;
}

Args training_args(const Strategy& s) {
  Args a;
  add(a, "--micro-batch-size", n(s.micro_batch));
  add(a, "--global-batch-size", n(s.global_batch));
  if (s.precision == DType::bf16 || s.precision == DType::fp8) add(a, "--bf16");
  if (s.precision == DType::fp16) add(a, "--fp16");
  if (s.precision == DType::fp8) add(a, "--fp8-format", "hybrid");
  if (s.fp8_param_gather) add(a, "--fp8-param-gather");
  // Gradients: bf16 training accumulates and reduces them in fp32 unless --grad-reduce-in-bf16;
  // fp16 training keeps them in fp16 unless --accumulate-allreduce-grads-in-fp32.
  if (s.grad_reduce == DType::bf16) add(a, "--grad-reduce-in-bf16");
  if (s.precision == DType::fp16 && s.grad_reduce == DType::fp32) add(a, "--accumulate-allreduce-grads-in-fp32");
  if (s.recompute == Recompute::selective) add(a, "--recompute-granularity", "selective");
  if (s.recompute == Recompute::full) {
    add(a, "--recompute-granularity", "full");
    add(a, "--recompute-method", "uniform");
    add(a, "--recompute-num-layers", "1");
  }
  if (!s.flash_attention) add(a, "--attention-backend", "unfused");
  // A named kernel: flash-attn's FA2/FA3 are Megatron's "flash" backend, cuDNN its "fused" one.
  else if (s.attention_kernel == AttentionKernel::cudnn) add(a, "--attention-backend", "fused");
  else if (s.attention_kernel != AttentionKernel::gpu_default) add(a, "--attention-backend", "flash");
  return a;
}

std::string bash_array(const std::string& name, const Args& args) {
  std::string out = name + "=(\n";
  for (const auto& a : args) out += fmt::format("  {}\n", a);
  return out + ")\n";
}
}  // namespace

Emitted emit_megatron(const Plan& p) {
  const Strategy& s = p.strategy;
  emit::Gaps gaps(kMegatronVersion);
  const ModelSpec* m = emit::require_spec(p, gaps);
  for (const std::string& lack : framework_gaps(Framework::megatron, s, m)) gaps.need(false, lack);
  gaps.throw_if_any();
  Emitted e;
  std::vector<std::string> head = emit::summary_lines(p, kMegatronVersion);
  head.push_back(fmt::format(
      "run on each of the {} node(s) with NODE_RANK (0..{}) and MASTER_ADDR (node 0) set;",
      p.cluster.nodes, p.cluster.nodes - 1));
  head.push_back(
      fmt::format("add data, tokenizer (vocabulary {}), optimizer and checkpoint arguments after "
                  "the script name",
                  m->vocab));
  const Args model = model_args(*m, e.notes);
  if (s.tp > 1 && !s.async_tp_backward)
    e.notes.push_back(std::string(kMegatronVersion) +
                      " always overlaps the TP input-gradient reduction with the weight-gradient GEMM; the plan "
                      "priced it exposed (async_tp_backward=off, the 2020-21 releases), so it runs faster than predicted");
  for (const auto& note : e.notes) head.push_back("note: " + note);
  std::string t = "#!/usr/bin/env bash\n";
  t += emit::comment_block(head, "# ");
  t += "set -euo pipefail\n";
  // arguments.py (before Blackwell): TP or CP asserts CUDA_DEVICE_MAX_CONNECTIONS=1; Megatron-FSDP
  // asserts it is not 1, and custom_fsdp.md says to unset it.
  if (s.zero >= 2)
    t += "unset CUDA_DEVICE_MAX_CONNECTIONS\n";
  else if (s.tp > 1 || s.cp > 1)
    t += "export CUDA_DEVICE_MAX_CONNECTIONS=1\n";
  t += fmt::format("\n{}\n{}\n{}\n", bash_array("MODEL_ARGS", model),
                   bash_array("PARALLEL_ARGS", parallel_args(p, m->moe.has_value())),
                   bash_array("TRAINING_ARGS", training_args(s)));
  t +=
      fmt::format("torchrun --nnodes {} --nproc-per-node {} --node-rank \"${{NODE_RANK:-0}}\" \\\n",
                  p.cluster.nodes, p.cluster.gpus_per_node);
  t += "  --master-addr \"${MASTER_ADDR:-localhost}\" --master-port \"${MASTER_PORT:-6000}\" \\\n";
  t += "  pretrain_gpt.py \"${MODEL_ARGS[@]}\" \"${PARALLEL_ARGS[@]}\" \"${TRAINING_ARGS[@]}\" "
       "\"$@\"\n";
  e.text = std::move(t);
  return e;
}

}  // namespace shardplan
