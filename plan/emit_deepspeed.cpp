// DeepSpeed (v0.19.5, docs/_pages/config-json.md) config for a plan, and the Megatron-DeepSpeed
// (megatron/arguments.py) flags that carry what the config cannot: TP and PP sizes, the model.
// DeepSpeed's pipeline engine runs 1F1B (or ZB-H1 through Megatron-DeepSpeed) and keeps ZeRO at
// stage 0/1 when pipelining; the emitter refuses what it cannot express.
#include <fmt/format.h>

#include "plan/emit.hpp"
#include "plan/emit_common.hpp"
#include "plan/framework_rules.hpp"
#include "plan/json_text.hpp"

namespace shardplan {

namespace {
using OJ = nlohmann::ordered_json;
std::string n(int64_t v) {
  return std::to_string(v);
}

OJ ds_config(const Strategy& s) {
  OJ j;
  j["train_batch_size"] = s.global_batch;
  j["train_micro_batch_size_per_gpu"] = s.micro_batch;
  j["gradient_accumulation_steps"] = s.micro_batches();
  j["zero_optimization"] = {{"stage", s.zero}, {"overlap_comm", s.overlap_grad_reduce}};
  if (s.precision == DType::bf16) j["bf16"] = {{"enabled", true}};
  // The plan prices fp32 gradients (Megatron's main grads). With bf16 and ZeRO-1 DeepSpeed then
  // runs its BF16_Optimizer (runtime/engine.py, _do_optimizer_sanity_check), as
  // Megatron-DeepSpeed's examples_deepspeed/universal_checkpointing/megatron_gpt/run_bf16.sh does.
  if (s.precision == DType::bf16 && s.zero == 1 && s.grad_reduce == DType::fp32)
    j["data_types"] = {{"grad_accum_dtype", "fp32"}};
  // Gradients reduced in 16 bits: accumulated and communicated in the training's type.
  if (s.grad_reduce != DType::fp32) {
    j["data_types"] = {{"grad_accum_dtype", dtype_name(s.grad_reduce)}};
    j["communication_data_type"] = dtype_name(s.grad_reduce);
  }
  if (s.precision == DType::fp16) j["fp16"] = {{"enabled", true}, {"loss_scale", 0}};
  if (s.recompute == Recompute::full)
    j["activation_checkpointing"] = {
        {"partition_activations", false},           {"cpu_checkpointing", false},
        {"contiguous_memory_optimization", false},  {"number_checkpoints", nullptr},
        {"synchronize_checkpoint_boundary", false}, {"profile", false}};
  return j;
}

// The pretrain_gpt.py arguments; where the model's RoPE is not what they can say (a fractional
// base, any scaling: Megatron-DeepSpeed has none), a note.
std::vector<std::string> megatron_ds_args(const Plan& p, const ModelSpec& m, std::vector<std::string>& notes) {
  const Strategy& s = p.strategy;
  std::vector<std::string> a = {
      "--num-layers " + n(m.layers),
      "--hidden-size " + n(m.hidden),
      "--num-attention-heads " + n(m.heads),
      "--ffn-hidden-size " +
          n(m.moe && m.moe->dense_layers == 0 ? m.moe->ffn_hidden : m.ffn_hidden),
      "--seq-length " + n(m.seq_len),
      "--max-position-embeddings " + n(m.seq_len)};
  if (m.kv_heads != m.heads) a.push_back("--num-key-value-heads " + n(m.kv_heads));
  if (m.head_dim * m.heads != m.hidden) a.push_back("--kv-channels " + n(m.head_dim));
  if (m.ffn_act == "swiglu") a.push_back("--swiglu");
  if (m.norm == "rmsnorm") a.push_back("--normalization rmsnorm");
  if (!m.learned_positions()) {
    a.insert(a.end(), {"--use-rotary-position-embeddings", "--no-position-embedding",
                       "--rotary-position-embeddings-theta " +
                           emit::rope_base_arg(m, "Megatron-DeepSpeed's --rotary-position-embeddings-theta", notes)});
    if (m.rope.scaling.changes_training())
      notes.push_back(fmt::format("Megatron-DeepSpeed has no RoPE scaling: the model's {} scaling (factor {}) "
                                  "is not applied, so the run trains other positions",
                                  m.rope.scaling.type, m.rope.scaling.factor));
    if (!m.linear_bias) a.push_back("--disable-bias-linear");
  }
  if (!m.tied_embeddings) a.push_back("--untie-embeddings-and-output-weights");
  // MoE: --create-moe-param-group puts the experts' parameters in their own optimizer groups,
  // which ZeRO and BF16_Optimizer assert (stage_1_and_2.py, bf16_optimizer.py).
  if (m.moe)
    a.insert(a.end(), {"--num-experts " + n(m.moe->experts), "--topk " + n(m.moe->top_k),
                       "--expert-interval 1", "--moe-expert-parallel-size " + n(s.ep),
                       "--create-moe-param-group"});
  a.push_back("--tensor-model-parallel-size " + n(s.tp));
  a.push_back("--pipeline-model-parallel-size " + n(s.pp));
  if (s.pp == 1) a.push_back("--no-pipeline-parallel");
  if (s.pp > 1 && s.schedule == Schedule::zero_bubble) a.push_back("--enable-zbh1-pipeline");
  if (s.sp) a.push_back("--sequence-parallel");
  a.push_back("--micro-batch-size " + n(s.micro_batch));
  a.push_back("--global-batch-size " + n(s.global_batch));
  if (s.precision == DType::bf16) a.push_back("--bf16");
  if (s.precision == DType::fp16) a.push_back("--fp16");
  if (s.flash_attention) a.push_back("--use-flash-attn-v2");
  if (s.recompute == Recompute::selective) a.push_back("--recompute-granularity selective");
  if (s.recompute == Recompute::full)
    a.insert(a.end(), {"--recompute-granularity full", "--recompute-method uniform",
                       "--recompute-num-layers 1", "--deepspeed-activation-checkpointing"});
  a.insert(a.end(),
           {"--deepspeed", "--deepspeed_config ds_config.json", "--zero-stage " + n(s.zero)});
  return a;
}

}  // namespace

Emitted emit_deepspeed(const Plan& p, bool config_only) {
  const Strategy& s = p.strategy;
  emit::Gaps gaps(kDeepSpeedVersion);
  const ModelSpec* m = emit::require_spec(p, gaps);
  for (const std::string& lack : framework_gaps(Framework::deepspeed, s, m)) gaps.need(false, lack);
  gaps.throw_if_any();
  Emitted e;
  const std::vector<std::string> ds_args = megatron_ds_args(p, *m, e.notes);
  if (s.pp > 1 && !emit::even_layer_split(p))
    e.notes.push_back(
        "DeepSpeed's pipeline splits transformer layers evenly by count (partition_method "
        "'type:transformer'); the plan's split is " +
        emit::layers_per_chunk_text(p) + " layers per stage, which its prediction assumes");
  if (s.pp > 1 && s.dp > 1 && s.overlap_grad_reduce)
    e.notes.push_back(
        "DeepSpeed's pipeline engine reduces gradients after the last backward (ReduceGrads in "
        "runtime/pipe/engine.py), not overlapped with it as the plan assumed; re-plan with "
        "--no-overlap-grad-reduce to price that");
  else if (deepspeed_bf16_optimizer(s) && s.dp * s.cp > 1 && s.overlap_grad_reduce)
    e.notes.push_back(
        "with bf16 and ZeRO-1 DeepSpeed runs BF16_Optimizer, which all-reduces the fp32 "
        "gradients after the backward (runtime/engine.py), not reduce-scattered beside it as the "
        "plan assumed; re-plan with --no-overlap-grad-reduce to price the wait");
  if (s.tp > 1 && !s.sp && s.async_tp_backward)
    e.notes.push_back(
        "Megatron-DeepSpeed turns the asynchronous TP all-reduce of the input gradient off under "
        "--deepspeed (arguments.py), so it runs exposed, not behind the weight-gradient GEMM as "
        "the plan assumed; re-plan with --no-async-tp-backward to price that");
  if (s.recompute == Recompute::selective && s.flash_attention)
    e.notes.push_back(
        "Megatron-DeepSpeed's flash-attention path does not checkpoint core attention, so "
        "--recompute-granularity selective recomputes nothing: the run is recompute none (as "
        "fast, the same memory with fused attention); re-plan with --recompute none");
  if (s.ep > 1)
    e.notes.push_back(
        "DeepSpeed forms expert-parallel groups from data-parallel ranks first "
        "(deepspeed/utils/groups.py, TP-strided); the plan's groups are Megatron-Core's");
  const std::string config = json_to_text(ds_config(s), 2) + "\n";
  if (config_only) {
    e.text = config;
    return e;
  }
  std::vector<std::string> head = emit::summary_lines(p, kDeepSpeedVersion);
  head.push_back(fmt::format(
      "run from a Megatron-DeepSpeed checkout on the first node; the hostfile lists the {} node(s)",
      p.cluster.nodes));
  head.push_back("add data, tokenizer (vocabulary " + n(m->vocab) +
                 "), optimizer and checkpoint arguments after the script name");
  for (const auto& note : e.notes) head.push_back("note: " + note);
  std::string t = "#!/usr/bin/env bash\n" + emit::comment_block(head, "# ") + "set -euo pipefail\n";
  if (s.tp > 1) {
    t += "export CUDA_DEVICE_MAX_CONNECTIONS=1\n";
    // The multi-node launcher (pdsh) forwards only NCCL_*, PYTHON*, ... and the lines of
    // .deepspeed_env (launcher/runner.py), and Megatron needs this one on every rank for TP.
    if (p.cluster.nodes > 1)
      t += "# the launcher passes the variables of .deepspeed_env to the other nodes\n"
           "grep -qx 'CUDA_DEVICE_MAX_CONNECTIONS=1' .deepspeed_env 2>/dev/null ||\n"
           "  echo 'CUDA_DEVICE_MAX_CONNECTIONS=1' >> .deepspeed_env\n";
  }
  t += "\ncat > ds_config.json <<'EOF'\n" + config + "EOF\n\nMEGATRON_DS_ARGS=(\n";
  for (const auto& a : ds_args) t += "  " + a + "\n";
  t += ")\n\n";
  t += fmt::format(
      "deepspeed --num_nodes {} --num_gpus {} --hostfile \"${{HOSTFILE:-hostfile}}\" \\\n",
      p.cluster.nodes, p.cluster.gpus_per_node);
  t += "  pretrain_gpt.py \"${MEGATRON_DS_ARGS[@]}\" \"$@\"\n";
  e.text = std::move(t);
  return e;
}

}  // namespace shardplan
