// Per-GPU memory of each pipeline stage: model states under ZeRO (Rajbhandari et al. 2020;
// Megatron's 18 bytes/parameter), activations in flight under the schedule (Korthikanti et al.
// 2022 §4), communication buffers, and the runtime allowance of the GPU profile.
#pragma once
#include <vector>

#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "costmodel/estimate.hpp"
#include "costmodel/pipeline.hpp"

namespace shardplan {

// Bytes per parameter of weights, gradients and optimizer states before ZeRO sharding.
struct StateBytes {
  double weights = 2, grads = 4, optimizer = 12;
};
// grad_reduce: Strategy::grad_reduce (fp32, or the 16-bit type of the training).
StateBytes state_bytes(DType precision, DType grad_reduce);
inline StateBytes state_bytes(const Strategy& s) {
  return state_bytes(s.precision, s.grad_reduce);
}
// Bytes per FP8-GEMM weight parameter (BlockCost::fp8_weight_params) that FP8 training keeps
// beside the bf16 weight: Transformer Engine, called by Megatron-Core with is_first_microbatch
// (disable_parameter_transpose_cache is false by default), quantizes each weight on a step's first
// micro-batch into a module-held workspace (_fp8_workspaces) and reuses it: the FP8 weight (1 B)
// and, on Hopper, whose FP8 GEMMs take only the TN layout, its FP8 transpose for the input-gradient
// GEMM (1 B; MXFP8 on Blackwell keeps column-wise data likewise). TE v1.11 module/base.py
// get_fp8_workspace, v2.4 get_weight_workspace; Megatron-Core extensions/transformer_engine.py.
// 2 B with bf16 weights; 0 with fp8_param_gather (the FP8 weight is the parameter, state_bytes)
// and under ZeRO-3, whose per-block gather makes the FP8 copies transient (Megatron-FSDP and
// FSDP2 drop the transpose cache).
double fp8_weight_cache_bytes(const Strategy& s);

// Bytes ZeRO all-gathers for `params` parameters of which `fp8_params` are FP8-GEMM weights: with
// fp8_param_gather those move in 1 B and the rest (embedding, output layer, norms, router, which
// Megatron and torchao keep in 16 bits) in 2 B; otherwise all in the compute copy's width (fp32
// training: the weights themselves, 4 B; else 2 B).
double gathered_bytes(const Strategy& s, double params, double fp8_params);

// Elements of gathered ZeRO-3 weights a GPU holds beside its shard, given its largest block and
// its largest per-module tensor (ChunkTotals::max_block_params, max_module_params): FSDP unshards
// the current and the prefetched block; DeepSpeed one module and its prefetch bucket
// (stage3_prefetch_bucket_size, 5e7 elements by default), and DeepSpeed 0.3.13-0.5.4 also the
// flat buffer PyTorch's list-based all_gather fills before copying it out.
double gathered_weights_elems(const Strategy& s, double max_block_params, double max_module_params);
// Their bytes: in 16 bits where the largest block is (the embedding, the head), FP8 elsewhere; at
// most the largest block's 16-bit parameters (max_block_16bit_params) gathered twice at 2 B.
double gathered_weights_bytes(const Strategy& s, double max_block_params, double max_module_params,
                              double max_block_16bit_params);
// Elements of whole gradients ZeRO-2/3 hold before reduce-scattering them into the shard: two
// blocks' under FSDP with the reduction overlapped (one being reduced, the next being produced),
// one without; under DeepSpeed's ZeRO-3 one module's, copied into its reduce bucket
// (reduce_bucket_size, 5e8 elements by default).
double full_gradient_elems(const Strategy& s, double max_block_params, double max_module_params);

// Micro-batches (of one stage's full set of chunks) whose activations stage `stage` holds at
// its peak under the schedule.
double inflight_micro_batches(const Strategy& s, int64_t stage);
// Under ZB-H1, the micro-batches whose B pass is done and W pass pending at the end of a B pass:
// stage i defers i weight passes behind its 1F1B order, and the B just run holds its own until
// its W: min(m, i + 1). (Stage 0 runs "B0 W0": even there, B0's end holds what W0 needs.)
double zb_pending_weight_passes(const Strategy& s, int64_t stage);

// Activation bytes stage `stage` holds at its peak under Megatron's interleaved order
// (schedules.py: micro-batches in groups of p, forward k runs chunk (k mod pv) / p, backward k
// chunk v-1 - (k mod pv) / p; after the warm-up's forwards each step runs a forward, then a
// backward): the largest sum over chunks c of (forwards - backwards of c) x chunks[c p + stage]
// .saved_bytes, right after a forward. The counts repeat every pv steps. Equal chunks give
// inflight_micro_batches x the stage's saved bytes.
double interleaved_peak_bytes(const Strategy& s, int64_t stage, const std::vector<ChunkTotals>& chunks);

std::vector<StageMemory> stage_memory(const Strategy& s, const ClusterSpec& cluster, const OpGraph& g,
                                      const std::vector<ChunkTotals>& chunks);
// The same from the per-stage totals (stage_totals(), PipelineInputs::stage), and the chunks
// (c = v pp + stage) where the interleaved schedule holds unequal ones.
std::vector<StageMemory> stage_memory_of(const Strategy& s, const ClusterSpec& cluster,
                                         const std::vector<ChunkTotals>& stages,
                                         const std::vector<ChunkTotals>* chunks = nullptr);

}  // namespace shardplan
