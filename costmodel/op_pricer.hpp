// Per-op pricing on one GPU, the pieces price_block sums: a matmul at its TP-sharded shape, a
// routed expert GEMM, fused or unfused attention, a memory-bound kernel, FP8 casts and what FP8
// does to saved inputs, and a TP collective. Tokens per GPU: T = micro_batch * seq_len / cp. Under
// TP, split ops run on 1/tp of their width; replicated ops (norms, dropout, residual) run in full
// unless sequence-parallel. Internal to the cost model: block_cost.cpp is its user.
#pragma once
#include "core/hardware.hpp"
#include "costmodel/block_cost.hpp"
#include "graph/op_graph.hpp"

namespace shardplan::pricing {

struct OpTimes {
  double fwd = 0, bwd_in = 0, bwd_w = 0;
  double m = 0, n = 0, k = 0;  // a matmul's forward GEMM on this GPU: (m x k) x (k x n)
};

// Backward of a memory-bound op moves about twice the forward's bytes (reads the saved input
// and the output gradient, writes the input gradient).
constexpr double kBwdBytesFactor = 2;

inline double act_bytes(DType p) { return p == DType::fp32 ? 4 : 2; }

// What an attention op's per-token FLOPs, given at the graph's sequence length, become at `seq`:
// linear in the sequence for full attention, bounded by the window for a windowed one.
double attention_flops_scale(const Op& o, double seq, double graph_seq);

struct Pricer {
  const OpGraph& g;
  const GpuSpec& gpu;
  const ShardContext& c;
  DType gemm_dtype, act_dtype;
  double T;  // tokens of the micro-batch on this GPU (sequence split by CP only)
  double tp;
  bool attn_dropout = false;  // attention-probability dropout (GPT lineage)

  double rep_div() const { return c.sp ? tp : 1; }  // replicated work is split only with SP

  OpTimes matmul(const Op& o, double& params, bool& col_input_replicated);

  // Transformer Engine's FP8 linear (cast_transpose): before the forward GEMM the 16-bit input
  // is read once and written as FP8 twice, as is and transposed for the weight gradient (2 + 1 + 1
  // = 4 B per element), and likewise the output gradient before the backward GEMMs. The FP8
  // weights are cast on the first micro-batch of a step and reused (not charged here).
  void fp8_casts(OpTimes& t, double input_elems, double output_elems) const;

  // What FP8 does to the saved input of a GEMM (for the weight gradient): Transformer Engine keeps
  // the FP8 copy it made for the GEMM, 1 B per element, in place of the 16-bit input (the weight
  // gradient reads the input column-wise, so on Hopper only the transposed FP8 copy is kept: TE's
  // "Performance Considerations" on tensor usages; Megatron-Core's low-precision guide: FP8
  // activations "are stored in 8 bits"). Where fused attention also keeps that input for its own
  // backward (its output O, the projection's input) the 16-bit tensor stays and the FP8 copy comes
  // on top: 3 B where 16-bit training shares one 2 B tensor.
  double fp8_saved_factor(bool input_kept_by_attention) const;

  OpTimes expert_matmul(const Op& o, double& params);

  // Attention core per GPU: heads / tp, queries T (this CP rank's), keys over the full sequence.
  OpTimes attention(const Op& o, double& extra_saved);

  OpTimes memory_bound(const Op& o, double tokens);
};

// A TP collective of `bytes`: an all-reduce, or with SP an all-gather (gather) or reduce-scatter.
double tp_collective(const ShardContext& c, double bytes, bool gather);

}  // namespace shardplan::pricing
