// Strategy: how one training step is split across GPUs (the `estimate` flags as a value).
// dp*tp*pp*cp = GPUs; ep is carved out of dp*cp*tp for expert layers (Megatron-Core).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/attention_kernel.hpp"
#include "core/dtype.hpp"
#include "core/zero3_impl.hpp"

namespace shardplan {

// none; selective: Megatron's core-attention recompute (Korthikanti et al. §5); full: the whole
// layer re-run from its input; op: torchtitan's op-level selective checkpointing (saves every
// other matmul output and the attention output of each layer, recomputes the rest).
enum class Recompute { none = 0, selective = 1, full = 2, op = 3 };
constexpr int kRecomputeCount = 4;
enum class Schedule { gpipe = 0, one_f_one_b = 1, interleaved = 2, zero_bubble = 3 };

const char* recompute_name(Recompute r);
const char* schedule_name(Schedule s);
bool parse_recompute(const std::string& s, Recompute& out);
std::vector<std::string> recompute_names();
extern const char* const kRecomputeChoices;  // "none, selective, full or op", for messages
bool parse_schedule(const std::string& s, Schedule& out);

struct Strategy {
  int64_t dp = 1, tp = 1, pp = 1, cp = 1, ep = 1;
  int64_t vp = 1;           // virtual pipeline chunks per pipeline rank (interleaved)
  bool sp = false;          // Megatron sequence parallelism (needs tp > 1 to matter)
  int zero = 0;             // 0..3 (1 = distributed optimizer, 3 = FSDP)
  Recompute recompute = Recompute::none;
  int64_t micro_batch = 1;  // sequences per micro-batch
  int64_t global_batch = 1; // sequences per step
  Schedule schedule = Schedule::one_f_one_b;
  DType precision = DType::bf16;
  // The gradients' type, as accumulated over micro-batches and reduced over DP: fp32 (Megatron's
  // default under bf16, torchtitan's mixed_precision_reduce), or the 16-bit type of the training
  // (sixteen_bit_of(precision): Megatron's --grad-reduce-in-bf16, DeepSpeed's default; the ZeRO
  // paper's 2 + 2 + 12 bytes per parameter). It sets the gradient memory and the DP traffic.
  DType grad_reduce = DType::fp32;
  // FP8 training with its weights kept in FP8 and all-gathered in FP8 by the distributed optimizer
  // or FSDP (Megatron's --fp8-param-gather, torchtitan's enable_fsdp_float8_all_gather): 1-byte
  // parameter gathers and no 16-bit copy of the weights. Needs precision fp8 and ZeRO >= 1.
  bool fp8_param_gather = false;
  int64_t seq_len = 0;      // 0: the model's
  bool tp_comm_overlap = false;
  // EP all-to-all of one micro-batch overlapped with another's compute (Megatron-Core >= 0.14
  // --overlap-moe-expert-parallel-comm --delay-wgrad-compute; DeepSeek's DualPipe does the same).
  bool ep_comm_overlap = false;
  // Implementation choices that change the cost (defaults: today's Megatron-Core).
  bool flash_attention = true;
  // The fused-attention kernel: the GPU preset's default, or fa2 / cudnn / fa3 where the preset
  // has their rates (Megatron's --attention-backend flash or fused).
  AttentionKernel attention_kernel = AttentionKernel::gpu_default;
  bool overlap_grad_reduce = true;
  // Megatron (since 2022) runs the input-gradient all-reduce / reduce-scatter of column-parallel
  // layers asynchronously behind the weight-gradient GEMM; Megatron of 2020-2021 did not.
  bool async_tp_backward = true;
  // How ZeRO-3 issues its collectives (core/zero3_impl.hpp); anything but fsdp needs zero = 3.
  Zero3Impl zero3_impl = Zero3Impl::fsdp;
  bool operator==(const Strategy&) const = default;

  int64_t gpus() const { return dp * tp * pp * cp; }
  // Ranks that hold the same experts (Megatron-Core's expert data parallel group, dp*cp*tp / ep):
  // what ZeRO shards the expert states over.
  int64_t expert_dp() const { return std::max<int64_t>(1, dp * cp * tp / std::max<int64_t>(1, ep)); }
  // The sequence length trained: seq_len where set, else the model's.
  int64_t seq_len_or(int64_t model_seq_len) const { return seq_len > 0 ? seq_len : model_seq_len; }
  int64_t micro_batches() const { return global_batch / (dp * micro_batch); }  // per replica
};

// What ZeRO keeps sharded from a step's first micro-batch to its last. Without pipeline
// parallelism, its stage: ZeRO-2 shards gradients, ZeRO-3 parameters too. Under pipeline
// parallelism only FSDP2 through torch.distributed.pipelining (torchtitan) runs ZeRO-2/3 (Megatron-
// FSDP and DeepSpeed do not pipeline it), and a pipeline stage there holds its gradients unsharded
// until the last micro-batch's backward, and leaves its parameters gathered after every backward
// (set_requires_gradient_sync and set_reshard_after_backward off for the others), so the stage
// peaks with whole parameters and gradients, as ZeRO-1's does.
// zero_within_step: the ZeRO stage whose states a step holds at its peak (under PP, ZeRO-2/3
// hold ZeRO-1's). The executors run that stage (they do not re-gather ZeRO-3's parameters before
// each backward).
inline int zero_within_step(const Strategy& s) { return s.pp > 1 && s.zero > 1 ? 1 : s.zero; }
inline bool grads_sharded_in_step(const Strategy& s) { return zero_within_step(s) >= 2; }
inline bool params_sharded_in_step(const Strategy& s) { return zero_within_step(s) >= 3; }

// The data-parallel size gpus / (tp*pp*cp); UsageError (prefixed by `what`) when the product does
// not divide the GPU count. Each factor is checked against the GPU count first, so a huge factor
// cannot overflow the product.
int64_t data_parallel_size(int64_t gpus, int64_t tp, int64_t pp, int64_t cp, const std::string& what);

// Why the strategy's grad_reduce cannot go with its precision ("" when it can): gradients are
// reduced in fp32 or in the training's 16-bit type.
std::string grad_reduce_error(const Strategy& s);
// Whether FP8 weights can be gathered in FP8 (fp8_param_gather): FP8 training whose weights the
// distributed optimizer or FSDP gathers (ZeRO >= 1).
inline bool fp8_param_gather_allowed(DType precision, int zero) { return precision == DType::fp8 && zero >= 1; }

// "tp=8,pp=8,mbs=1,recompute=selective,sp" <-> Strategy. Unknown keys, empty items and keys given
// twice throw UsageError.
Strategy parse_strategy_string(const std::string& s, Strategy base);
std::string strategy_to_string(const Strategy& s);

}  // namespace shardplan
