// What each framework can run, one rule each (docs/plan-format.md gives the sources). Written once
// as a template over what to do with an unmet rule: collect its sentence (the emitters' error) or
// just note the refusal (the planner's filter, millions of strategies, no strings built).
#include "plan/framework_rules.hpp"

#include <fmt/format.h>

#include "plan/emit.hpp"
#include "plan/emit_common.hpp"

namespace shardplan {

bool deepspeed_bf16_optimizer(const Strategy& s) { return s.precision == DType::bf16 && s.zero == 1; }

namespace {

// Gemma's layer (GeGLU, the norms after attention and FFN, softcapped logits): Megatron-Bridge
// builds it in code; neither Megatron-LM's arguments nor Megatron-DeepSpeed's GPT can say it.
// DeepSpeed's gradients are 16-bit under fp16 and bf16, except with bf16 and ZeRO-1, where
// "data_types": {"grad_accum_dtype": "fp32"} selects BF16_Optimizer (runtime/engine.py).
bool deepspeed_keeps_16bit_grads(const Strategy& s) {
  return (s.precision == DType::fp16 || s.precision == DType::bf16) && !deepspeed_bf16_optimizer(s);
}

template <class Need>
void no_gemma_layer(const ModelSpec* m, const char* who, Need&& need) {
  if (!m) return;
  need(m->ffn_act != "geglu",
       [&] { return fmt::format("no GELU-gated FFN (GeGLU) in {} (--swiglu is SiLU-gated)", who); });
  need(!m->post_norms,
       [&] { return fmt::format("no norms after the attention and the FFN (post_norms) in {}", who); });
  need(!m->logit_softcap, [&] { return fmt::format("no logit softcapping in {}", who); });
}

// gpt-oss's layer (the clamped quick-GEGLU with its +1 offset, a learned softmax sink per head):
// Megatron-LM has flags for it (--quick-geglu, --glu-linear-offset, --activation-func-clamp-value,
// --softmax-type learnable); Megatron-DeepSpeed's GPT and torchtitan's models do not.
template <class Need>
void no_gpt_oss_layer(const ModelSpec* m, const char* who, Need&& need) {
  if (!m) return;
  need(m->ffn_act != "quick_geglu" && m->glu_linear_offset == 0 && m->ffn_clamp == 0, [&] {
    return fmt::format("no clamped quick-GELU-gated FFN (gpt-oss's quick_geglu, glu_linear_offset, "
                       "ffn_clamp) in {}",
                       who);
  });
  need(!m->attention.sinks,
       [&] { return fmt::format("no learned softmax sinks (attention.sinks) in {}", who); });
}

template <class Need>
void megatron(const Strategy& s, const ModelSpec* m, Need&& need) {
  no_gemma_layer(m, "Megatron-LM's arguments", need);
  if (s.pp > 1) {
    need(s.schedule != Schedule::gpipe,
         "no GPipe schedule for pipeline parallelism (pipelined runs are 1F1B, or interleaved "
         "1F1B with virtual stages); re-plan with --schedule 1f1b");
    need(s.schedule != Schedule::zero_bubble,
         "no zero-bubble (ZB-H1) pipeline schedule (megatron/core/pipeline_parallel/schedules.py "
         "runs 1F1B and interleaved 1F1B); re-plan with --schedule 1f1b or interleaved");
  }
  need(s.zero < 2 || s.pp == 1,
       "no ZeRO-2/3 with pipeline parallelism (Megatron-FSDP runs with TP, EP and CP, "
       "docs/source/api-guide/custom_fsdp.md); re-plan with --zero 0,1 or --pp 1");
  need(!s.tp_comm_overlap || (s.sp && s.tp > 1),
       "no TP communication overlap without sequence parallelism (arguments.py asserts "
       "--sequence-parallel with --tp-comm-overlap, and turns it off when tp = 1); re-plan "
       "with --sp on or --tp-comm-overlap off");
  need(!s.ep_comm_overlap || s.ep > 1,
       "no expert all-to-all to overlap without expert parallelism; re-plan with "
       "--ep-comm-overlap off");
  if (s.ep_comm_overlap) {  // transformer_config.py's asserts for overlap_moe_expert_parallel_comm
    need(s.pp == 1 || s.vp > 1,
         "no expert all-to-all overlap in a pipeline without virtual stages "
         "(transformer_config.py asserts virtual_pipeline_model_parallel_size when pp > 1); "
         "re-plan with --schedule interleaved or --ep-comm-overlap off");
    need(s.recompute != Recompute::full,
         "no expert all-to-all overlap with full recomputation (transformer_config.py asserts "
         "recompute_granularity != 'full'); re-plan with --recompute none,selective or "
         "--ep-comm-overlap off");
    need(s.precision != DType::fp32 && s.precision != DType::tf32,
         "no expert all-to-all overlap in fp32 (transformer_config.py asserts a bf16 or fp16 "
         "model); re-plan with --precision bf16 or --ep-comm-overlap off");
  }
  need(s.cp == 1 || s.flash_attention,
       "no context parallelism with unfused attention (Transformer Engine's unfused backend, "
       "which --attention-backend unfused selects, does not support context parallelism); "
       "re-plan with flash attention or --cp 1");
  need(s.recompute != Recompute::op,
       "no op-level selective checkpointing (--recompute-granularity selective recomputes the "
       "modules of --recompute-modules, core attention by default); re-plan with --recompute "
       "none,selective,full");
  need(!(s.ep > 1 && s.precision == DType::fp16),
       "no expert parallelism in fp16 (arguments.py asserts \"Expert parallelism is not "
       "supported with fp16 training\"); re-plan with --precision bf16 or --ep 1");
  need(!(s.ep > 1 && s.tp > 1 && !s.sp),
       "no expert parallelism with tensor parallelism but without sequence parallelism "
       "(megatron/core/transformer/moe/README.md: it must be enabled); re-plan with --sp on");
  need(s.zero3_impl == Zero3Impl::fsdp,
       "no DeepSpeed-style ZeRO-3 (Megatron-FSDP gathers one unit, a layer, at a time); re-plan "
       "with --zero3-impl fsdp");
}

template <class Need>
void deepspeed(const Strategy& s, const ModelSpec* m, Need&& need) {
  if (s.pp > 1) {
    need(s.schedule != Schedule::interleaved || s.vp == 1,
         "no interleaved pipeline schedule (the pipeline engine runs TrainSchedule, 1F1B; "
         "Megatron-DeepSpeed adds ZB-H1); re-plan with --schedule 1f1b or zb");
    need(s.schedule != Schedule::gpipe,
         "no GPipe schedule (the pipeline engine runs 1F1B); re-plan with --schedule 1f1b");
    need(!(s.schedule == Schedule::zero_bubble && s.sp),
         "no ZB-H1 with sequence parallelism (Megatron-DeepSpeed asserts --sequence-parallel off "
         "with --enable-zbh1-pipeline); re-plan with --sp off");
    need(s.zero < 2,
         "no ZeRO-2/3 with pipeline parallelism (runtime/pipe/engine.py: \"ZeRO-2 and ZeRO-3 are "
         "incompatible with pipeline parallelism\"); re-plan with --zero 0,1");
  }
  need(s.zero != 3 || s.zero3_impl == Zero3Impl::deepspeed,
       "no ZeRO-3 but its own (stage 3 gathers linear layer by linear layer, and again for a "
       "recomputed forward); re-plan with --zero3-impl deepspeed");
  need(s.cp == 1,
       "no ring context parallelism (its sequence parallelism, --ds-sequence-parallel-size, is "
       "DeepSpeed-Ulysses all-to-all, which the plan did not price); re-plan with --cp 1");
  need(s.recompute != Recompute::op,
       "no op-level selective checkpointing (Megatron-DeepSpeed recomputes core attention or "
       "whole layers); re-plan with --recompute none,selective,full");
  need(!s.tp_comm_overlap, "no TP communication/GEMM overlap; re-plan with --tp-comm-overlap off");
  need(!s.ep_comm_overlap,
       "no overlap of the expert all-to-all with another micro-batch's compute; re-plan with "
       "--ep-comm-overlap off");
  need(s.precision != DType::fp8,
       "no FP8 training in the DeepSpeed config (its mixed-precision blocks are fp16 and bf16); "
       "re-plan with --precision bf16");
  need(!deepspeed_keeps_16bit_grads(s) || s.grad_reduce != DType::fp32, [&] {
    return std::string(
               "no fp32 gradients with fp16, or with bf16 outside ZeRO-1 (runtime/engine.py "
               "_do_optimizer_sanity_check: only BF16_Optimizer, bf16 with ZeRO-1, accumulates in "
               "fp32); re-plan with --grad-reduce-dtype ") +
           dtype_name(sixteen_bit_of(s.precision));
  });
  no_gemma_layer(m, "Megatron-DeepSpeed's GPT model", need);
  no_gpt_oss_layer(m, "Megatron-DeepSpeed's GPT model", need);
  if (m) {
    need(m->attention.kind != "mla", "no multi-latent attention in Megatron-DeepSpeed's GPT model");
    need(!m->qk_norm, "no query/key normalisation (qk_norm) in Megatron-DeepSpeed's GPT model");
    need(!m->window_below(s.seq_len_or(m->seq_len)),
         "no sliding-window attention in Megatron-DeepSpeed's GPT model");
    if (m->moe) {
      need(m->moe->dense_layers == 0,
           "no leading dense layers in MoE models (--expert-interval puts experts on every N-th "
           "layer)");
      need(m->moe->shared_experts == 0,
           "no shared experts (Megatron-DeepSpeed MoE layers are routed only)");
    }
  }
}

template <class Need>
void torchtitan(const Strategy& s, const ModelSpec* m, Need&& need) {
  const bool other = s.tp > 1 || s.pp > 1 || s.cp > 1 || s.ep > 1;
  need(s.zero3_impl == Zero3Impl::fsdp,
       "no DeepSpeed-style ZeRO-3 (FSDP2 gathers one wrapped block at a time); re-plan with "
       "--zero3-impl fsdp");
  need(s.zero != 1 || s.pp > 1,
       "no optimizer-only sharding (ZeRO-1) without pipeline parallelism: FSDP2 shards gradients "
       "too; re-plan with --zero 2 (FSDP without resharding after forward) or 3");
  need(!(s.zero == 0 && s.dp > 1 && other),
       "no DDP together with other parallelism (llama3/infra/parallelize.py: \"DDP has not "
       "supported > 1D parallelism\"); re-plan with --zero 2,3");
  need(!(s.zero == 0 && s.cp > 1),
       "no context parallelism without FSDP (parallel_dims.fsdp_enabled is on when cp > 1); "
       "re-plan with --zero 2,3");
  if (s.pp > 1)
    need(s.schedule != Schedule::zero_bubble,
         "no single-stage ZB-H1 schedule (torch.distributed.pipelining's zero-bubble schedules, "
         "InterleavedZeroBubble and ZBVZeroBubble, run two or more stages per rank); re-plan "
         "with --schedule 1f1b or interleaved");
  need(!s.ep_comm_overlap,
       "no overlap of the expert all-to-all with another micro-batch's compute; re-plan with "
       "--ep-comm-overlap off");
  need(s.precision != DType::fp16,
       "no fp16 mixed precision (training.mixed_precision_param is bfloat16 or float32)");
  need(s.grad_reduce == DType::fp32,
       "no 16-bit gradient reduction (training.mixed_precision_reduce is \"float32\" only); "
       "re-plan with --grad-reduce-dtype fp32");
  need(s.seq_len % (2 * s.tp * s.cp) == 0, [&] {
    return fmt::format(
        "no sequence length that is not a multiple of 2*tp*cp = {} "
        "(parallel_dims.seq_len_divisor)",
        2 * s.tp * s.cp);
  });
  if (m) {
    need(!m->learned_positions() && m->norm == "rmsnorm" && m->ffn_act == "swiglu",
         "no model with LayerNorm or GELU (its llama3, llama4, deepseek_v3 and qwen3 models use "
         "RMSNorm and SwiGLU)");
    need(!m->window_below(s.seq_len_or(m->seq_len)),
         "no sliding-window attention in its llama3, deepseek_v3 and qwen3 models");
    need(!m->linear_bias, "no biases on the attention and FFN linears in its llama3, deepseek_v3 and qwen3 models");
    no_gpt_oss_layer(m, "its llama3, deepseek_v3 and qwen3 models", need);
  }
}

template <class Need>
void rules(Framework f, const Strategy& s, const ModelSpec* m, Need&& need) {
  switch (f) {
    case Framework::megatron:
      megatron(s, m, need);
      break;
    case Framework::deepspeed:
      deepspeed(s, m, need);
      break;
    case Framework::torchtitan:
      torchtitan(s, m, need);
      break;
  }
}

// The unmet rule's sentence: a literal, or a callable that formats one.
std::string sentence(const char* lack) {
  return lack;
}
template <class F>
std::string sentence(const F& lack) {
  return lack();
}
}  // namespace

bool parse_framework(const std::string& name, Framework& out) {
  for (Framework f : {Framework::megatron, Framework::deepspeed, Framework::torchtitan})
    if (name == framework_name(f)) return out = f, true;
  return false;
}

const char* framework_name(Framework f) {
  switch (f) {
    case Framework::megatron:
      return "megatron";
    case Framework::deepspeed:
      return "deepspeed";
    default:
      return "torchtitan";
  }
}

const char* framework_release(Framework f) {
  switch (f) {
    case Framework::megatron:
      return kMegatronVersion;
    case Framework::deepspeed:
      return kDeepSpeedVersion;
    default:
      return kTorchtitanVersion;
  }
}

std::vector<std::string> framework_gaps(Framework f, const Strategy& s, const ModelSpec* m) {
  std::vector<std::string> out;
  rules(f, s, m, [&](bool ok, const auto& lack) {
    if (!ok) out.push_back(sentence(lack));
  });
  return out;
}

bool framework_runs(Framework f, const Strategy& s, const ModelSpec* m) {
  bool runs = true;
  rules(f, s, m, [&](bool ok, const auto&) { runs = runs && ok; });
  return runs;
}

bool framework_partition_runs(Framework f, const std::vector<int64_t>& bounds, int64_t blocks) {
  if (f != Framework::deepspeed || bounds.size() < 3) return true;
  const size_t chunks = bounds.size() - 1;
  int64_t first = -1;
  for (size_t c = 0; c < chunks; ++c) {
    const int64_t layers = bounds[c + 1] - bounds[c] - (c == 0 ? 1 : 0) - (bounds[c + 1] == blocks ? 1 : 0);
    if (first < 0) first = layers;
    if (layers != first) return false;
  }
  return true;
}

bool framework_plans(Framework f, Strategy& s, const ModelSpec* m) {
  // What the framework does whatever the plan says, where the strategy can express it.
  // The pipeline engine, and BF16_Optimizer (bf16 with ZeRO-1), reduce after the last backward;
  // Megatron-DeepSpeed turns the asynchronous TP input-gradient all-reduce off.
  if (f == Framework::deepspeed && (s.pp > 1 || deepspeed_bf16_optimizer(s))) s.overlap_grad_reduce = false;
  if (f == Framework::deepspeed) s.async_tp_backward = false;
  if (f == Framework::deepspeed && deepspeed_keeps_16bit_grads(s))
    s.grad_reduce = sixteen_bit_of(s.precision);
  if (f == Framework::deepspeed && s.zero == 3) s.zero3_impl = Zero3Impl::deepspeed;
  if (f == Framework::torchtitan) s.flash_attention = true, s.overlap_grad_reduce = true;
  if (!framework_runs(f, s, m)) return false;
  // Points the framework runs but not as priced, whose twin in the space is priced as it runs
  // (the emitter would only note the difference): torchtitan shards norms over the sequence
  // whenever tp > 1 (the sp twin), checkpoints op by op (recompute=op), and under gradient
  // accumulation re-gathers FSDP2 weights for every micro-batch (ZeRO-3 prices that).
  if (f == Framework::torchtitan)
    return !(s.tp > 1 && !s.sp) && s.recompute != Recompute::selective &&
           !(s.zero == 2 && s.pp == 1 && s.micro_batches() > 1);
  // Megatron-DeepSpeed's flash path checkpoints no core attention: selective runs as none.
  if (f == Framework::deepspeed) return !(s.recompute == Recompute::selective && s.flash_attention);
  return true;
}

std::vector<Recompute> framework_recompute_modes(Framework f) {
  // torchtitan's selective mode is op-level checkpointing, priced as recompute=op.
  if (f == Framework::torchtitan) return {Recompute::none, Recompute::op, Recompute::full};
  return {Recompute::none, Recompute::selective, Recompute::full};
}

}  // namespace shardplan
