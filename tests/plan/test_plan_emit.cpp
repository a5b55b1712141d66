// Emitters against golden files (tests/data/golden/; SHARDPLAN_UPDATE_GOLDEN=1 rewrites them),
// and the errors that name what a framework lacks. Plans use fixed predictions and splits.
#include <doctest/doctest.h>

#include <algorithm>

#include <functional>

#include "core/error.hpp"
#include "plan/emit.hpp"
#include "plan_fixtures.hpp"

using namespace shardplan;
using shardplan_test::fixed_plan;
using shardplan_test::matches_golden;

namespace {
// GPT-3 175B on 1024 A100s the way Narayanan et al. ran it: tp 8, pp 8, interleaved (vp 2).
Plan gpt3_interleaved() {
  Strategy s;
  s.tp = 8, s.pp = 8, s.vp = 2, s.schedule = Schedule::interleaved, s.sp = true, s.zero = 1;
  s.recompute = Recompute::selective, s.micro_batch = 1, s.global_batch = 1536,
  s.tp_comm_overlap = true;
  return fixed_plan("gpt3-175b", "dgx-a100", 1024, s);
}

// Llama 3 70B, 1F1B on four stages with an uneven split (19 + embedding, 21, 21, 19 + head).
Plan llama70b_uneven() {
  Strategy s;
  s.tp = 8, s.pp = 4, s.sp = true, s.zero = 1, s.recompute = Recompute::full, s.micro_batch = 1,
  s.global_batch = 1024;
  Plan p = fixed_plan("llama3-70b", "dgx-h100", 512, s);
  p.chunk_bounds = {0, 20, 41, 62, 82};
  return p;
}

// Llama 3 8B with FSDP (ZeRO-3), TP 2, CP 2 and an interleaved pipeline.
Plan llama8b_fsdp() {
  Strategy s;
  s.tp = 2, s.pp = 2, s.cp = 2, s.vp = 2, s.schedule = Schedule::interleaved, s.sp = true,
  s.zero = 3;
  s.recompute = Recompute::selective, s.micro_batch = 1, s.global_batch = 256;
  return fixed_plan("llama3-8b", "dgx-h100", 64, s);
}

// The same without a pipeline, as Megatron-FSDP runs ZeRO-3 (dp = 16).
Plan llama8b_fsdp_no_pp() {
  Strategy s = llama8b_fsdp().strategy;
  s.pp = 1, s.vp = 1, s.schedule = Schedule::one_f_one_b;
  return fixed_plan("llama3-8b", "dgx-h100", 64, s);
}

// Mixtral 8x7B with expert parallelism 8 across dp x tp, no pipeline.
Plan mixtral_ep() {
  Strategy s;
  s.tp = 2, s.ep = 8, s.sp = true, s.zero = 1, s.micro_batch = 1, s.global_batch = 256;
  return fixed_plan("mixtral-8x7b", "dgx-h100", 64, s);
}

std::string emit_error(const std::function<Emitted()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("emit: Megatron-LM golden files") {
  CHECK(
      matches_golden("gpt3-175b-interleaved.megatron.sh", emit_megatron(gpt3_interleaved()).text));
  CHECK(matches_golden("llama3-70b-uneven.megatron.sh", emit_megatron(llama70b_uneven()).text));
  CHECK(matches_golden("llama3-8b-fsdp-cp.megatron.sh", emit_megatron(llama8b_fsdp_no_pp()).text));
  CHECK(matches_golden("mixtral-8x7b-ep.megatron.sh", emit_megatron(mixtral_ep()).text));
  // The uneven split is spelled out as a layout; the even interleaved one as layers per chunk.
  CHECK(has(emit_megatron(llama70b_uneven()).text,
            "--pipeline-model-parallel-layout 'Et*19|t*21|t*21|t*19L'"));
  CHECK(has(emit_megatron(gpt3_interleaved()).text, "--num-layers-per-virtual-pipeline-stage 6"));
  // arguments.py allows at most one of the layout and the per-chunk layer count.
  CHECK_FALSE(has(emit_megatron(llama70b_uneven()).text, "--num-layers-per-virtual"));
  CHECK_FALSE(has(emit_megatron(gpt3_interleaved()).text, "--pipeline-model-parallel-layout"));
  // Megatron-FSDP (ZeRO-3): the flag set of custom_fsdp.md, and CUDA_DEVICE_MAX_CONNECTIONS unset
  // (arguments.py asserts it is not 1 under FSDP).
  const std::string fsdp = emit_megatron(llama8b_fsdp_no_pp()).text;
  CHECK(has(fsdp, "--data-parallel-sharding-strategy optim_grads_params"));
  CHECK(has(fsdp, "--use-distributed-optimizer"));
  CHECK(has(fsdp, "unset CUDA_DEVICE_MAX_CONNECTIONS"));
  CHECK_FALSE(has(fsdp, "CUDA_DEVICE_MAX_CONNECTIONS=1"));
  // Qwen3's per-head q/k norms: --qk-layernorm (with the model's RMSNorm); Llama has none.
  Strategy q;
  q.tp = 1, q.ep = 8, q.zero = 1, q.micro_batch = 1, q.global_batch = 64;
  const Plan qwen = fixed_plan("qwen3-30b-a3b", "dgx-h100", 8, q);
  CHECK(has(emit_megatron(qwen).text, "--qk-layernorm"));
  CHECK_FALSE(has(emit_megatron(llama8b_fsdp_no_pp()).text, "--qk-layernorm"));
  CHECK(has(emit_error([&] { return emit_deepspeed(qwen, false); }), "no query/key normalisation (qk_norm)"));
  // The plan prices EP as all-to-all, which is not Megatron's default dispatcher.
  CHECK(has(emit_megatron(mixtral_ep()).text, "--moe-token-dispatcher-type alltoall"));
}

TEST_CASE("emit: DeepSpeed golden files") {
  const Emitted e = emit_deepspeed(llama70b_uneven(), false);
  CHECK(matches_golden("llama3-70b-uneven.deepspeed.sh", e.text));
  REQUIRE(e.notes.size() == 3);
  CHECK(has(e.notes[0], "no RoPE scaling: the model's llama3 scaling (factor 8)"));
  CHECK(has(e.notes[1], "19,21,21,19 layers per stage"));
  CHECK(has(e.notes[2], "reduces gradients after the last backward"));
  const std::string config = emit_deepspeed(llama70b_uneven(), true).text;
  CHECK(matches_golden("llama3-70b-uneven.deepspeed.json", config));
  const auto j =
      nlohmann::json::parse(config);  // valid JSON, batch sizes consistent: 1024 = 1 * 64 * dp 16
  CHECK(j["train_batch_size"] == 1024);
  CHECK(j["train_micro_batch_size_per_gpu"] == 1);
  CHECK(j["gradient_accumulation_steps"] == 64);
  CHECK(j["zero_optimization"]["stage"] == 1);
  CHECK(j["bf16"]["enabled"] == true);
  CHECK(j.contains("activation_checkpointing"));
  CHECK(j["data_types"]["grad_accum_dtype"] == "fp32");  // bf16 + ZeRO-1: fp32 grads, as priced
  CHECK(matches_golden("mixtral-8x7b-ep.deepspeed.sh", emit_deepspeed(mixtral_ep(), false).text));
  // What Megatron-DeepSpeed runs differently from a plan priced for another framework is noted:
  // its synchronous TP input-gradient all-reduce (tp > 1 without sp), and its flash path, which
  // checkpoints no core attention under selective recompute.
  Plan tp_sync = llama70b_uneven();
  tp_sync.strategy.sp = false, tp_sync.strategy.async_tp_backward = true;
  tp_sync.strategy.recompute = Recompute::selective, tp_sync.strategy.flash_attention = true;
  const Emitted n = emit_deepspeed(tp_sync, false);
  auto noted = [&](const char* what) {
    return std::any_of(n.notes.begin(), n.notes.end(), [&](const std::string& x) { return has(x, what); });
  };
  CHECK(noted("asynchronous TP all-reduce"));
  CHECK(noted("recomputes nothing"));
}

TEST_CASE("emit: torchtitan golden file") {
  const Emitted e = emit_torchtitan(llama8b_fsdp());
  CHECK(matches_golden("llama3-8b-fsdp-cp.torchtitan.toml", e.text));
  CHECK(has(e.text, "flavor = \"8B\""));
  CHECK(has(e.text, "pipeline_parallel_schedule = \"Interleaved1F1B\""));
  REQUIRE(e.notes.size() == 1);  // op-level selective checkpointing differs from Megatron's
  CHECK(has(e.notes[0], "selective"));
  // Under pipeline parallelism ZeRO-1 runs as FSDP2 without resharding after forward, which
  // keeps gradients and parameters whole through the step there.
  Plan z1 = llama8b_fsdp();
  z1.strategy.zero = 1;
  CHECK(has(emit_torchtitan(z1).text, "fsdp_reshard_after_forward = \"never\""));
  CHECK(has(emit_torchtitan(llama8b_fsdp()).text, "fsdp_reshard_after_forward = \"always\""));
  // recompute=op is the policy torchtitan runs: the same section, and no note about it.
  Plan op = llama8b_fsdp();
  op.strategy.recompute = Recompute::op;
  const Emitted eo = emit_torchtitan(op);
  CHECK(has(eo.text, "[activation_checkpoint]\nmode = \"selective\"\nselective_ac_option = \"op\"\n"));
  CHECK(eo.notes.empty());
  Plan fp8 = llama8b_fsdp();
  fp8.strategy.precision = DType::fp8;
  const Emitted e8 = emit_torchtitan(fp8);
  REQUIRE(e8.notes.size() == 2);
  CHECK(has(e8.notes[1], "torchao's float8 linears save their 16-bit inputs"));
}

TEST_CASE("emit: what a framework lacks is an error naming each gap") {
  const std::string ds = emit_error([] { return emit_deepspeed(gpt3_interleaved(), false); });
  CHECK(has(ds, "DeepSpeed"));
  CHECK(has(ds, "no interleaved pipeline schedule"));
  CHECK(has(ds, "no TP communication/GEMM overlap"));
  const std::string ds2 = emit_error([] { return emit_deepspeed(llama8b_fsdp(), false); });
  CHECK(has(ds2, "no ZeRO-2/3 with pipeline parallelism"));
  CHECK(has(ds2, "no ring context parallelism"));
  CHECK(has(emit_error([] { return emit_megatron(llama8b_fsdp()); }), "no ZeRO-2/3 with pipeline parallelism"));
  const std::string tt = emit_error([] { return emit_torchtitan(gpt3_interleaved()); });
  CHECK(has(tt, "torchtitan v0.2.2 cannot run this plan"));
  CHECK_FALSE(has(tt, "ZeRO-1"));  // ZeRO-1 under PP runs as FSDP2 "never"
  CHECK(has(emit_error([] { return emit_torchtitan(mixtral_ep()); }),
            "no optimizer-only sharding (ZeRO-1) without pipeline parallelism"));
  CHECK(has(tt, "LayerNorm or GELU"));

  Plan overlap = mixtral_ep();  // TP overlap without sequence parallelism: asserted by Megatron
  overlap.strategy.sp = false, overlap.strategy.ep = 1, overlap.strategy.tp_comm_overlap = true;
  CHECK(has(emit_error([&] { return emit_megatron(overlap); }),
            "no TP communication overlap without sequence parallelism"));

  // EP all-to-all overlap: Megatron-Core >= 0.14 runs it (with the delayed weight gradients it
  // needs); DeepSpeed and torchtitan name the gap.
  Plan ep_overlap = mixtral_ep();
  ep_overlap.strategy.ep_comm_overlap = true;
  const std::string mg = emit_megatron(ep_overlap).text;
  CHECK(has(mg, "--overlap-moe-expert-parallel-comm"));
  CHECK(has(mg, "--delay-wgrad-compute"));
  CHECK(has(emit_error([&] { return emit_deepspeed(ep_overlap, false); }),
            "no overlap of the expert all-to-all"));
  CHECK(has(emit_error([&] { return emit_torchtitan(ep_overlap); }), "no overlap of the expert all-to-all"));
  // Megatron-Core asserts what the overlap needs: virtual stages under PP, no full recompute, a
  // 16-bit model (transformer_config.py).
  Plan ep_full = ep_overlap;
  ep_full.strategy.recompute = Recompute::full;
  CHECK(has(emit_error([&] { return emit_megatron(ep_full); }), "no expert all-to-all overlap with full recomputation"));
  Plan ep_pp = ep_overlap;
  ep_pp.strategy.pp = 2, ep_pp.strategy.vp = 1, ep_pp.strategy.dp /= 2;
  ep_pp.strategy.schedule = Schedule::one_f_one_b;
  CHECK(has(emit_error([&] { return emit_megatron(ep_pp); }), "without virtual stages"));
  // Context parallelism needs a fused attention backend (TE's unfused one refuses it).
  Plan cp_unfused = llama70b_uneven();
  cp_unfused.strategy.cp = 2, cp_unfused.strategy.flash_attention = false;
  CHECK(has(emit_error([&] { return emit_megatron(cp_unfused); }), "no context parallelism with unfused attention"));

  // A named attention kernel becomes Megatron's backend: flash-attn's FA2/FA3 "flash", cuDNN "fused".
  Plan fa2 = llama70b_uneven();
  fa2.strategy.attention_kernel = AttentionKernel::fa2;
  CHECK(has(emit_megatron(fa2).text, "--attention-backend flash"));
  fa2.strategy.attention_kernel = AttentionKernel::cudnn;
  CHECK(has(emit_megatron(fa2).text, "--attention-backend fused"));

  Plan gpipe = llama70b_uneven();
  gpipe.strategy.schedule = Schedule::gpipe;
  CHECK(has(emit_error([&] { return emit_megatron(gpipe); }), "no GPipe schedule"));
  Plan op = gpt3_interleaved();
  op.strategy.recompute = Recompute::op;
  CHECK(has(emit_error([&] { return emit_megatron(op); }), "no op-level selective checkpointing"));
  CHECK(has(emit_error([&] { return emit_deepspeed(op, false); }), "no op-level selective checkpointing"));
  Plan zb = llama70b_uneven();
  zb.strategy.schedule = Schedule::zero_bubble;
  CHECK(has(emit_error([&] { return emit_megatron(zb); }), "no zero-bubble (ZB-H1)"));
  zb.strategy.zero = 3;
  CHECK(has(emit_error([&] { return emit_torchtitan(zb); }), "no single-stage ZB-H1 schedule"));
  zb.strategy.sp = false;
  zb.strategy.zero = 1;
  CHECK(emit_deepspeed(zb, false).text.find("--enable-zbh1-pipeline") != std::string::npos);

  Strategy s;
  const Plan graph = fixed_plan("examples/vision-decoder.graph", "dgx-h100", 8, s);
  for (auto f : {+[](const Plan& p) { return emit_megatron(p); },
                 +[](const Plan& p) { return emit_torchtitan(p); }})
    CHECK(has(emit_error([&] { return f(graph); }), "no model for an explicit op graph"));
}

TEST_CASE("emit: Megatron notes a plan priced with the TP backward reduction exposed") {
  Plan p = llama8b_fsdp_no_pp();
  p.strategy.zero = 1;
  CHECK(emit_megatron(p).notes.empty());
  p.strategy.async_tp_backward = false;  // priced as the 2020-21 releases ran it
  const Emitted e = emit_megatron(p);
  REQUIRE(e.notes.size() == 1);
  CHECK(has(e.notes[0], "always overlaps the TP input-gradient reduction"));
  CHECK(has(e.text, "# note: "));
}

TEST_CASE("emit: a sliding window becomes Megatron's --window-size; DeepSpeed and torchtitan refuse it") {
  // Mistral 7B's window of 4096 keys: Transformer Engine's (left, right) = (4095, 0).
  Strategy s;
  s.tp = 1, s.zero = 1, s.micro_batch = 1, s.global_batch = 64;
  const Plan mistral = fixed_plan("mistral-7b", "dgx-h100", 8, s);
  const std::string text = emit_megatron(mistral).text;
  CHECK(has(text, "--window-size 4095,0"));
  CHECK_FALSE(has(text, "--window-attn-skip-freq"));
  CHECK_FALSE(has(emit_megatron(llama8b_fsdp_no_pp()).text, "--window-size"));
  CHECK(has(emit_error([&] { return emit_deepspeed(mistral, false); }), "no sliding-window attention"));
  CHECK(has(emit_error([&] { return emit_torchtitan(mistral); }), "no sliding-window attention"));
}

TEST_CASE("emit: Gemma's layer has no Megatron-LM or DeepSpeed flags, and they say so") {
  Strategy s;
  s.tp = 8, s.zero = 1, s.micro_batch = 1, s.global_batch = 64;
  const Plan gemma = fixed_plan("gemma2-9b", "dgx-h100", 8, s);
  const std::string megatron = emit_error([&] { return emit_megatron(gemma); });
  CHECK(has(megatron, "no GELU-gated FFN (GeGLU) in Megatron-LM's arguments"));
  CHECK(has(megatron, "no norms after the attention and the FFN (post_norms)"));
  CHECK(has(megatron, "no logit softcapping"));
  CHECK(has(emit_error([&] { return emit_deepspeed(gemma, false); }), "Megatron-DeepSpeed's GPT model"));
  CHECK(has(emit_error([&] { return emit_torchtitan(gemma); }), "RMSNorm and SwiGLU"));
}

TEST_CASE("emit: gpt-oss's layer becomes Megatron-LM's gpt-oss flags; DeepSpeed and torchtitan refuse it") {
  // Megatron-LM's arguments.py: --quick-geglu, --glu-linear-offset, --activation-func-clamp-value,
  // --softmax-type learnable; biases are Megatron's default (no --disable-bias-linear).
  Strategy s;
  s.tp = 4, s.ep = 8, s.sp = true, s.zero = 1, s.micro_batch = 1, s.global_batch = 64;
  const Plan oss = fixed_plan("gpt-oss-120b", "dgx-h100", 64, s);
  const std::string text = emit_megatron(oss).text;
  CHECK(has(text, "--quick-geglu"));
  CHECK(has(text, "--glu-linear-offset 1"));
  CHECK(has(text, "--activation-func-clamp-value 7"));
  CHECK(has(text, "--softmax-type learnable"));
  CHECK(has(text, "--window-size 127,0"));
  CHECK(has(text, "--window-attn-skip-freq 2"));
  CHECK_FALSE(has(text, "--disable-bias-linear"));
  CHECK_FALSE(has(text, "--swiglu"));
  CHECK(has(emit_megatron(llama8b_fsdp_no_pp()).text, "--disable-bias-linear"));
  const std::string ds = emit_error([&] { return emit_deepspeed(oss, false); });
  CHECK(has(ds, "no clamped quick-GELU-gated FFN"));
  CHECK(has(ds, "no learned softmax sinks"));
  const std::string tt = emit_error([&] { return emit_torchtitan(oss); });
  CHECK(has(tt, "no biases on the attention and FFN linears"));
  CHECK(has(tt, "no learned softmax sinks"));
}

TEST_CASE("emit: the gradients' type becomes each framework's setting") {
  // bf16 gradients: Megatron --grad-reduce-in-bf16, DeepSpeed grad_accum_dtype and
  // communication_data_type bf16; torchtitan v0.2.2 reduces in float32 only and says so.
  Plan p = llama70b_uneven();
  p.strategy.grad_reduce = DType::bf16;
  CHECK(has(emit_megatron(p).text, "--grad-reduce-in-bf16"));
  const auto j = nlohmann::json::parse(emit_deepspeed(p, true).text);
  CHECK(j["data_types"]["grad_accum_dtype"] == "bf16");
  CHECK(j["communication_data_type"] == "bf16");
  Plan t = llama8b_fsdp();
  t.strategy.grad_reduce = DType::bf16;
  CHECK(has(emit_error([&] { return emit_torchtitan(t); }), "no 16-bit gradient reduction"));
  CHECK(has(emit_torchtitan(llama8b_fsdp()).text, "mixed_precision_reduce = \"float32\""));
  // The default, fp32: Megatron's own default under bf16 (no flag); under fp16 Megatron keeps fp16
  // gradients unless told otherwise, so a plan priced with fp32 ones says so.
  CHECK_FALSE(has(emit_megatron(llama70b_uneven()).text, "--grad-reduce-in-bf16"));
  Plan h = llama70b_uneven();
  h.strategy.precision = DType::fp16;
  CHECK(has(emit_megatron(h).text, "--accumulate-allreduce-grads-in-fp32"));
  h.strategy.grad_reduce = DType::fp16;
  CHECK_FALSE(has(emit_megatron(h).text, "--accumulate-allreduce-grads-in-fp32"));
}

TEST_CASE("emit: FP8 weights gathered in FP8 become --fp8-param-gather and torchtitan's float8 all-gather") {
  Plan p = llama70b_uneven();
  p.strategy.precision = DType::fp8, p.strategy.fp8_param_gather = true;
  CHECK(has(emit_megatron(p).text, "--fp8-param-gather"));
  Plan t = llama8b_fsdp();
  t.strategy.precision = DType::fp8, t.strategy.fp8_param_gather = true;
  CHECK(has(emit_torchtitan(t).text, "[quantize.linear.float8]\nenable_fsdp_float8_all_gather = true"));
  CHECK_FALSE(has(emit_megatron(llama70b_uneven()).text, "--fp8-param-gather"));
}

TEST_CASE("emit: RoPE's base and scaling become each framework's flags, or a note where it has none") {
  auto rope_notes = [](const Emitted& e) {
    return std::count_if(e.notes.begin(), e.notes.end(), [](const std::string& n) { return has(n, "RoPE"); });
  };
  // Llama 3.1 (models/llama3-8b.json): base 500000, Llama 3.1's scaling by 8. core_v0.15.0's
  // pretrain_gpt.py hands GPTModel only --use-rope-scaling (gpt_builders.py), whose factor 8 and
  // low/high factors 1/4 over 8192 positions are GPTModel's defaults -- the model's own.
  const Emitted llama = emit_megatron(llama8b_fsdp_no_pp());
  CHECK(has(llama.text, "--rotary-base 500000\n"));
  CHECK(has(llama.text, "--use-rope-scaling\n"));
  CHECK_FALSE(has(llama.text, "--rope-scaling-factor"));  // reaches no model in core_v0.15.0
  CHECK(rope_notes(llama) == 0);
  // Another factor or other bands than those defaults: a note that they differ.
  for (const auto& [factor, high] : {std::pair{8.0, 2.0}, std::pair{32.0, 4.0}}) {
    Plan bands = llama8b_fsdp_no_pp();
    bands.model.spec->rope.scaling.factor = factor;
    bands.model.spec->rope.scaling.high_freq_factor = high;
    const Emitted b = emit_megatron(bands);
    REQUIRE(rope_notes(b) == 1);
    CHECK(has(b.notes[0], "where Megatron's pretrain_gpt.py fixes factor 8 and 1/4 over 8192"));
  }
  // Linear interpolation reaches no model either (--rotary-seq-len-interpolation-factor is read by
  // the legacy model only); dynamic NTK changes nothing up to the trained context: no note.
  Plan lin = llama8b_fsdp_no_pp();
  lin.model.spec->rope.scaling = RopeScaling{"linear", 4};
  CHECK(has(emit_megatron(lin).notes[0], "linear RoPE scaling (factor 4) has no pretrain_gpt.py argument"));
  CHECK_FALSE(has(emit_megatron(lin).text, "interpolation"));
  lin.model.spec->rope.scaling = RopeScaling{"dynamic", 2};
  CHECK(rope_notes(emit_megatron(lin)) == 0);
  // A base that is no integer: Megatron's --rotary-base is type=int.
  Plan odd = llama8b_fsdp_no_pp();
  odd.model.spec->rope.theta = 123456.7;
  const Emitted o = emit_megatron(odd);
  CHECK(has(o.text, "--rotary-base 123457\n"));
  CHECK(has(o.notes[0], "RoPE base 123456.7 runs as 123457"));
  // DeepSeek-V3's YaRN (factor 40, mscale 1 and 1, 4096 positions, betas 32/1) on MLA: Megatron's
  // MLA flags, nothing left over.
  Strategy s;
  s.tp = 1, s.ep = 8, s.zero = 1, s.micro_batch = 1, s.global_batch = 64;
  const Emitted ds3 = emit_megatron(fixed_plan("deepseek-v3", "dgx-h100", 64, s));
  CHECK(has(ds3.text, "--rotary-base 10000\n"));
  CHECK(has(ds3.text, "--rotary-scaling-factor 40\n"));
  CHECK(has(ds3.text, "--mscale 1\n"));
  CHECK(has(ds3.text, "--mscale-all-dim 1\n"));
  CHECK(rope_notes(ds3) == 0);
  // gpt-oss's YaRN on standard attention: no pretrain_gpt.py argument (--position-embedding-type
  // has no "yarn"), so a note; its base 150000 is still passed.
  Strategy g;
  g.tp = 4, g.ep = 8, g.sp = true, g.zero = 1, g.micro_batch = 1, g.global_batch = 64;
  const Emitted oss = emit_megatron(fixed_plan("gpt-oss-120b", "dgx-h100", 64, g));
  CHECK(has(oss.text, "--rotary-base 150000\n"));
  CHECK_FALSE(has(oss.text, "--rotary-scaling-factor"));
  REQUIRE(rope_notes(oss) == 1);
  CHECK(has(oss.notes[0], "yarn RoPE scaling (factor 32) has no pretrain_gpt.py argument"));
  // GPT's learned positions: no rotary flags at all.
  CHECK_FALSE(has(emit_megatron(gpt3_interleaved()).text, "--rotary-base"));
  // Megatron-DeepSpeed: the base (an integer argument), and no scaling at all.
  const Emitted d = emit_deepspeed(llama70b_uneven(), false);
  CHECK(has(d.text, "--rotary-position-embeddings-theta 500000\n"));
  REQUIRE(rope_notes(d) == 1);
  CHECK(has(d.notes[0], "no RoPE scaling: the model's llama3 scaling (factor 8) is not applied"));
  CHECK(rope_notes(emit_deepspeed(mixtral_ep(), false)) == 0);
  CHECK(has(emit_deepspeed(mixtral_ep(), false).text, "--rotary-position-embeddings-theta 1000000\n"));
  // torchtitan's llama3 flavors rotate as Llama 3.1 (base 500000, scaling 8): the zoo model matches;
  // Llama 3 without the scaling runs otherwise, and the note says so.
  CHECK(rope_notes(emit_torchtitan(llama8b_fsdp())) == 0);
  // A DeepSeek-V3 shape torchtitan has no flavor for: the YaRN to register, under deepseek_v3's
  // own model-args names (it has YaRN; llama3 has only Llama 3.1's scaling).
  Strategy d3;
  d3.tp = 1, d3.ep = 8, d3.zero = 3, d3.micro_batch = 1, d3.global_batch = 64;
  Plan small = fixed_plan("deepseek-v3", "dgx-h100", 64, d3);
  small.model.spec->name = "dsv3-small";
  small.model.spec->hidden = 2560;  // no flavor has this width
  const Emitted tt = emit_torchtitan(small);
  CHECK(std::any_of(tt.notes.begin(), tt.notes.end(), [](const std::string& n) {
    return has(n, "rope_theta 10000, rope_factor 40, original_seq_len 4096, beta_fast 32, beta_slow 1, mscale 1") &&
           !has(n, "no argument");
  }));
  Plan llama3 = llama8b_fsdp();
  llama3.model.spec->rope.scaling = RopeScaling{};
  const Emitted t = emit_torchtitan(llama3);
  REQUIRE(rope_notes(t) == 1);
  CHECK(std::any_of(t.notes.begin(), t.notes.end(), [](const std::string& n) {
    return has(n, "llama3 8B flavor rotates with rope_theta 500000, rope_scaling_args (scaling_factor 8") &&
           has(n, "the model has rope_theta 500000: register");
  }));
}
