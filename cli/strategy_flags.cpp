// Shared flag registration and resolution for the strategy-taking subcommands.
#include "cli/strategy_flags.hpp"

#include "core/error.hpp"

namespace shardplan::cli {

void add_problem_flags(CLI::App* cmd, ProblemFlags& f) {
  cmd->add_option("--model", f.model, "zoo name, transformer spec, HF config.json or op graph")->required();
  cmd->add_option("--cluster", f.cluster, "cluster preset name or file")->capture_default_str();
  cmd->add_option("--gpus", f.gpus, "number of GPUs")->required()->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  cmd->add_option("--global-batch", f.global_batch, "sequences per step")->required()->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--seq-len", f.seq_len, "override the model's sequence length")->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--precision", f.precision, "fp32, bf16, fp16 or fp8")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16", "fp8"}))->capture_default_str();
  cmd->add_option("--grad-reduce-dtype", f.grad_reduce,
                  "gradients accumulated and reduced in fp32, or in the training's 16-bit type (bf16: "
                  "Megatron's --grad-reduce-in-bf16; fp16 with --precision fp16)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}))->capture_default_str();
  cmd->add_flag("--allow-tp-across-nodes", f.allow_tp_across_nodes, "let TP span more than one NVLink domain");
}

void add_strategy_flags(CLI::App* cmd, StrategyFlags& f) {
  auto pos = CLI::Range(int64_t{1}, int64_t{1} << 30);
  cmd->add_option("--tp", f.tp, "tensor parallel size")->check(pos);
  cmd->add_option("--pp", f.pp, "pipeline parallel size")->check(pos);
  cmd->add_option("--dp", f.dp, "data parallel size (default: GPUs / (tp*pp*cp))")->check(pos);
  cmd->add_option("--cp", f.cp, "context parallel size")->check(pos);
  cmd->add_option("--ep", f.ep, "expert parallel size")->check(pos);
  cmd->add_option("--vp", f.vp, "virtual pipeline chunks per stage (interleaved)")->check(pos);
  cmd->add_flag("--sp", f.sp, "sequence parallelism");
  cmd->add_option("--zero", f.zero, "ZeRO stage 0-3")->check(CLI::Range(0, 3));
  cmd->add_option("--recompute", f.recompute,
                  "none, selective (core attention), full, or op (torchtitan's op-level selective checkpointing)")
      ->check(CLI::IsMember(recompute_names()));
  cmd->add_option("--micro-batch", f.micro_batch, "sequences per micro-batch")->check(pos);
  cmd->add_option("--schedule", f.schedule, "gpipe, 1f1b, interleaved or zb (default: 1f1b, interleaved when vp > 1)")
      ->check(CLI::IsMember({"gpipe", "1f1b", "interleaved", "zb"}));
  cmd->add_flag("--tp-comm-overlap", f.tp_comm_overlap, "overlap TP communication with GEMMs");
  cmd->add_flag("--ep-comm-overlap", f.ep_comm_overlap,
                "overlap one micro-batch's expert all-to-all with another's compute (needs --ep > 1)");
  cmd->add_flag("--fp8-param-gather", f.fp8_param_gather,
                "FP8 weights, all-gathered in FP8 (needs --precision fp8 and --zero >= 1; Megatron's "
                "--fp8-param-gather)");
  cmd->add_flag("--no-flash-attention", f.no_flash, "unfused attention (Megatron before FlashAttention)");
  cmd->add_option("--attention-kernel", f.attention_kernel,
                  "fused-attention kernel: default (the GPU preset's), fa2, cudnn or fa3")
      ->check(CLI::IsMember(attention_kernel_names()));
  cmd->add_flag("--no-overlap-grad-reduce", f.no_overlap_grad_reduce, "DP gradient reduction after the backward");
  cmd->add_flag("--no-async-tp-backward", f.no_async_tp_backward,
                "TP input-gradient reduction not overlapped with the weight-gradient GEMM (Megatron before 2022)");
  cmd->add_option("--zero3-impl", f.zero3_impl,
                  "how ZeRO-3 issues its collectives: fsdp (one per block), deepspeed (one per linear layer, "
                  "re-gathered for recompute) or deepspeed-2021 (DeepSpeed 0.3.13-0.5.4: one per parameter, host "
                  "loop over the ranks, no overlap); needs --zero 3")
      ->check(CLI::IsMember(zero3_impl_names()));
}

Problem resolve_problem(const ProblemFlags& f) {
  Problem p;
  p.model = load_model(f.model, f.seq_len);
  p.cluster = load_cluster(f.cluster);
  p.cluster.set_gpu_count(f.gpus);
  p.gpus = f.gpus;
  p.global_batch = f.global_batch;
  p.precision = *parse_dtype(f.precision);
  p.grad_reduce = *parse_dtype(f.grad_reduce);
  Strategy probe;
  probe.precision = p.precision, probe.grad_reduce = p.grad_reduce;
  if (std::string why = grad_reduce_error(probe); !why.empty())
    throw UsageError("--grad-reduce-dtype " + f.grad_reduce + ": " + why);
  return p;
}

Strategy resolve_strategy(const StrategyFlags& f, const Problem& p) {
  Strategy s;
  s.tp = f.tp;
  s.pp = f.pp;
  s.cp = f.cp;
  s.ep = f.ep;
  s.vp = f.vp;
  s.dp = data_parallel_size(p.gpus, f.tp, f.pp, f.cp, "");
  if (f.dp != 0 && f.dp != s.dp)
    throw UsageError("--dp " + std::to_string(f.dp) + " does not match GPUs / (tp*pp*cp) = " + std::to_string(s.dp));
  s.sp = f.sp;
  s.zero = f.zero;
  parse_recompute(f.recompute, s.recompute);
  s.micro_batch = f.micro_batch;
  s.global_batch = p.global_batch;
  if (f.schedule.empty()) s.schedule = f.vp > 1 ? Schedule::interleaved : Schedule::one_f_one_b;
  else parse_schedule(f.schedule, s.schedule);
  s.precision = p.precision;
  s.grad_reduce = p.grad_reduce;
  s.seq_len = p.model.graph.seq_len;
  s.tp_comm_overlap = f.tp_comm_overlap;
  s.ep_comm_overlap = f.ep_comm_overlap;
  s.flash_attention = !f.no_flash;
  parse_attention_kernel(f.attention_kernel, s.attention_kernel);
  s.overlap_grad_reduce = !f.no_overlap_grad_reduce;
  s.async_tp_backward = !f.no_async_tp_backward;
  s.fp8_param_gather = f.fp8_param_gather;
  parse_zero3_impl(f.zero3_impl, s.zero3_impl);
  return s;
}

}  // namespace shardplan::cli
