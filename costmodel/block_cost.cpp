// Per-op pricing. Tokens per GPU: T = micro_batch * seq_len / cp. Under TP, split ops run on 1/tp
// of their width; replicated ops (norms, dropout, residual) run in full unless sequence-parallel.
// TP collectives follow Megatron (Narayanan et al. 2021 §2.3; Korthikanti et al. 2022 §4.2.2).
#include "costmodel/block_cost.hpp"

#include <algorithm>
#include <cmath>

#include "costmodel/gemm.hpp"
#include "costmodel/tp_overlap.hpp"

namespace shardplan {

namespace {
struct OpTimes {
  double fwd = 0, bwd_in = 0, bwd_w = 0;
  double m = 0, n = 0, k = 0;  // a matmul's forward GEMM on this GPU: (m x k) x (k x n)
};

// Backward of a memory-bound op moves about twice the forward's bytes (reads the saved input
// and the output gradient, writes the input gradient).
constexpr double kBwdBytesFactor = 2;

double act_bytes(DType p) { return p == DType::fp32 ? 4 : 2; }

struct Pricer {
  const OpGraph& g;
  const GpuSpec& gpu;
  const ShardContext& c;
  DType gemm_dtype, act_dtype;
  double T;  // tokens of the micro-batch on this GPU (sequence split by CP only)
  double tp;
  bool attn_dropout = false;  // attention-probability dropout (GPT lineage)

  double rep_div() const { return c.sp ? tp : 1; }  // replicated work is split only with SP

  OpTimes matmul(const Op& o, double& params, bool& col_input_replicated) {
    double n = double(o.dims[0]), k = double(o.dims[1]);
    OpTimes t;
    if (o.split == Split::none) {
      params += o.params;
    } else if (o.split == Split::rows) {
      k /= tp;
      params += o.params / tp;
    } else {
      n /= tp;
      params += o.params / tp;
    }
    col_input_replicated = o.split != Split::rows && o.split != Split::none;
    t.m = T, t.n = n, t.k = k;
    t.fwd = gemm_time_s(gpu, gemm_dtype, T, n, k);
    t.bwd_in = gemm_time_s(gpu, gemm_dtype, T, k, n);
    t.bwd_w = gemm_time_s(gpu, gemm_dtype, k, n, T);
    return t;
  }

  // Transformer Engine's FP8 linear (cast_transpose): before the forward GEMM the 16-bit input
  // is read once and written as FP8 twice, as is and transposed for the weight gradient (2 + 1 + 1
  // = 4 B per element), and likewise the output gradient before the backward GEMMs. The FP8
  // weights are cast on the first micro-batch of a step and reused (not charged here).
  void fp8_casts(OpTimes& t, double input_elems, double output_elems) const {
    if (gemm_dtype != DType::fp8) return;
    t.fwd += memory_time_s(gpu, 4 * input_elems, 1);
    t.bwd_in += memory_time_s(gpu, 4 * output_elems, 1);
  }

  // What FP8 does to the saved input of a GEMM (for the weight gradient): Transformer Engine keeps
  // the FP8 copy it made for the GEMM, 1 B per element, in place of the 16-bit input (the weight
  // gradient reads the input column-wise, so on Hopper only the transposed FP8 copy is kept: TE's
  // "Performance Considerations" on tensor usages; Megatron-Core's low-precision guide: FP8
  // activations "are stored in 8 bits"). Where fused attention also keeps that input for its own
  // backward (its output O, the projection's input) the 16-bit tensor stays and the FP8 copy comes
  // on top: 3 B where 16-bit training shares one 2 B tensor.
  double fp8_saved_factor(bool input_kept_by_attention) const {
    if (gemm_dtype != DType::fp8) return 1;
    return input_kept_by_attention ? 1.5 : 0.5;
  }

  OpTimes expert_matmul(const Op& o, double& params) {
    double n = double(o.dims[0]), k = double(o.dims[1]), experts = double(o.dims[2]), topk = double(o.dims[3]);
    double local_experts = std::max(1.0, experts / double(c.ep));
    params += o.params / std::min<double>(experts, double(c.ep));
    // Each GPU's tokens (sequence-split by TP when SP) are routed top_k times; balanced routing
    // gives every local expert T_local * top_k * ep / experts tokens.
    double tokens = T / rep_div() * topk * double(c.ep) / experts;
    OpTimes t;
    t.m = tokens * local_experts, t.n = n, t.k = k;
    t.fwd = gemm_time_s(gpu, gemm_dtype, tokens, n, k, local_experts);
    t.bwd_in = gemm_time_s(gpu, gemm_dtype, tokens, k, n, local_experts);
    t.bwd_w = gemm_time_s(gpu, gemm_dtype, k, n, tokens, local_experts);
    return t;
  }

  // Attention core per GPU: heads / tp, queries T (this CP rank's), keys over the full sequence.
  OpTimes attention(const Op& o, double& extra_saved) {
    double heads = double(o.dims[0]) / tp, dq = double(o.dims[2]), dv = double(o.dims[3]);
    double b = double(c.micro_batch), s_q = T / b, s_k = double(c.seq_len);
    OpTimes t;
    DType math = c.precision == DType::fp8 ? DType::bf16 : c.precision;  // attention stays 16-bit
    if (c.flash) {
      // FlashAttention, causal: the kernel skips masked tiles, half the s x s work. Backward does
      // 2.5x the forward's FLOPs (it recomputes QK^T), FlashAttention-2 §3.
      double fwd_flops = 2.0 * b * heads * s_q * s_k * (dq + dv) * 0.5;
      double peak = gpu.peak_flops(math) > 0 ? gpu.peak_flops(math) : gpu.peak_flops(DType::fp32);
      // Short sequences run below the asymptote; under CP each kernel sees one rank's chunk of keys.
      const double keys = s_k / double(c.cp);
      peak *= keys / (keys + gpu.attention_ramp_keys) * gpu.sustained_compute_fraction;
      // The preset's default kernel, or the named one (the Estimator checks the preset has it).
      const auto& named = gpu.attention_kernels[size_t(c.attention_kernel)];
      const bool dflt = c.attention_kernel == AttentionKernel::gpu_default || named[0] <= 0;
      const double fwd_frac = dflt ? gpu.attention_fwd_fraction : named[0];
      const double bwd_frac = dflt ? gpu.attention_bwd_fraction : named[1];
      t.fwd = fwd_flops / (peak * fwd_frac) + gpu.kernel_overhead_us * 1e-6;
      t.bwd_in = 2.5 * fwd_flops / (peak * bwd_frac) + gpu.kernel_overhead_us * 1e-6;
    } else {
      // Unfused (Megatron 2021): batched QK^T and AV GEMMs over all s x s scores, and memory-bound
      // scale-mask-softmax and dropout on the scores in 16-bit.
      double bh = b * heads;
      double elems = bh * s_q * s_k;
      t.fwd = gemm_time_s(gpu, math, s_q, s_k, dq, bh) + gemm_time_s(gpu, math, s_q, dv, s_k, bh);
      // Bytes per score (16-bit): write 2, softmax read 2 + write 2, AV reads 2; with attention
      // dropout also read 2 + write 2 + a 1-byte mask (GPT lineage). fp32 scores double the 2s.
      const double w = act_bytes(act_dtype) / 2;
      t.fwd += memory_time_s(gpu, elems * (attn_dropout ? 12 * w + 1 : 8 * w), attn_dropout ? 2 : 1);
      t.bwd_in = gemm_time_s(gpu, math, s_q, s_k, dv, bh) + gemm_time_s(gpu, math, s_q, dq, s_k, bh) +
                 gemm_time_s(gpu, math, s_k, dv, s_q, bh) + gemm_time_s(gpu, math, s_k, dq, s_q, bh);
      // dropout backward read 2 + mask 1 + write 2, softmax backward read 4 + write 2, and the
      // probabilities re-read by the dV GEMM.
      // Backward bytes per score: dP written 2, P (or the dropout output) read for dV 2, softmax
      // backward reads y and dy and writes dx 6, dS read by the dQ and dK GEMMs 4; with dropout its
      // backward adds read 2 + mask 1 + write 2.
      t.bwd_in += memory_time_s(gpu, elems * (attn_dropout ? 18 * w + 1 : 14 * w), attn_dropout ? 3 : 2);
      // Softmax output (2), dropout mask (1) and dropout output (2) per score: the 5as/h term.
      // The scores are in the activation dtype (4 bytes each in fp32); the mask is 1 byte.
      const double score = act_bytes(act_dtype);
      extra_saved = (attn_dropout ? 2 * score + 1 : score) * elems;
    }
    return t;
  }

  OpTimes memory_bound(const Op& o, double tokens) {
    double bytes = o.bytes_per_token * tokens * act_bytes(act_dtype) / 2;
    if (o.dropout) bytes += double(o.dims[0]) * tokens;  // write the 1-byte mask
    OpTimes t;
    t.fwd = memory_time_s(gpu, bytes);
    t.bwd_in = memory_time_s(gpu, bytes * kBwdBytesFactor);
    return t;
  }
};

double tp_collective(const ShardContext& c, double bytes, bool gather) {
  // Without SP every TP collective is an all-reduce; with SP an all-gather or reduce-scatter of
  // the same tensor (half the all-reduce's traffic each).
  if (c.tp <= 1) return 0;
  if (!c.sp) return all_reduce_s(c.tp_group, bytes);
  return gather ? all_gather_s(c.tp_group, bytes) : reduce_scatter_s(c.tp_group, bytes);
}
}  // namespace

BlockCost price_block(const OpGraph& g, const Block& block, const GpuSpec& gpu, const ShardContext& c) {
  // FP8 training runs the transformer layers' GEMMs in FP8 and keeps the output layer in 16 bits
  // (Megatron-Core's output layer is not a Transformer Engine module; torchtitan's float8 filters
  // out "output").
  const bool fp8 = c.precision == DType::fp8;
  Pricer p{g, gpu, c, fp8 && block.type == "head" ? DType::bf16 : c.precision, fp8 ? DType::bf16 : c.precision,
           double(c.micro_batch) * double(c.seq_len) / double(c.cp), double(c.tp)};
  for (int64_t v : block.ops) p.attn_dropout = p.attn_dropout || g.op(v).dropout;
  BlockCost bc;
  const double act = act_bytes(p.act_dtype) / 2;  // graph bytes are 16-bit
  double tp_fwd = 0, tp_bwd = 0, tp_bwd_async = 0;  // exposed TP communication
  double attn_core_fwd = 0;
  double saved = 0, saved_attention_core = 0;
  double expert_tokens_bytes = 0;
  double largest_op_bytes = 0;
  bool has_attention = false;
  bool input_kept_by_attention = false;  // the op before was fused attention (which keeps its output)
  for (int64_t v : block.ops) {
    const Op& o = g.op(v);
    OpTimes t;
    double tokens_here = p.T;
    double op_saved = o.saved_bytes_per_token * act;
    switch (o.kind) {
      case OpKind::matmul: {
        bool replicated_input = false;
        double params = 0;
        t = p.matmul(o, params, replicated_input);
        bc.dense_params += params;
        double split = o.split == Split::none ? 1 : p.tp;
        bc.model_flops += (o.fwd_flops_per_token + o.bwd_flops_per_token) * p.T / split;
        // Megatron's linear layers (LinearWithGradAccumulationAndAsyncCommunication):
        // column-parallel: forward all-gathers the sequence-sharded input (SP); backward reduces
        // the input gradient (all-reduce, or reduce-scatter with SP) asynchronously behind the
        // weight-gradient GEMM, and with SP re-gathers the input behind the input-gradient GEMM.
        // Row-parallel: forward reduces the output (exposed); backward all-gathers the output
        // gradient (SP, exposed).
        // An asynchronous collective beside a GEMM costs what it adds to the GEMM's time, SM
        // contention included (beside_collective). With --tp-comm-overlap (SP) Transformer Engine
        // pipelines every TP collective with its GEMM (te_* above).
        double width = double(o.split == Split::rows ? o.dims[0] : o.dims[1]) * p.T * act_bytes(p.act_dtype);
        const bool te = c.tp_comm_overlap && c.sp && c.tp > 1;
        if (o.split == Split::rows) {
          const double rs = tp_collective(c, width, false), ag = c.sp ? tp_collective(c, width, true) : 0;
          if (te) {
            tp_fwd += te_pipeline_rs_s(gpu, p.gemm_dtype, t.m, t.n, t.k, rs) - t.fwd;
            // Input gradient: (m x n) x (n x k) after all-gathering the output gradient.
            tp_bwd += te_ring_exchange_s(gpu, p.gemm_dtype, t.m, t.k, t.n, p.tp, ag) - t.bwd_in;
          } else {
            tp_fwd += rs;
            tp_bwd += ag;
          }
        } else if (replicated_input && o.split != Split::none) {
          double reduce = tp_collective(c, width, false);
          double regather = c.sp ? tp_collective(c, width, true) : 0;
          if (te) {
            tp_fwd += te_ring_exchange_s(gpu, p.gemm_dtype, t.m, t.n, t.k, p.tp, regather) - t.fwd;
            // Bulk: the input's re-gather (for the weight gradient) beside the input-gradient
            // GEMM, the input gradient's reduce-scatter beside the weight-gradient GEMM.
            tp_bwd_async += te_bulk_s(gpu, t.bwd_in, regather) - t.bwd_in + te_bulk_s(gpu, t.bwd_w, reduce) - t.bwd_w;
          } else {
            if (c.sp) tp_fwd += regather;
            tp_bwd_async += c.async_tp_backward ? beside_collective(gpu, t.bwd_w, reduce) - t.bwd_w +
                                                      beside_collective(gpu, t.bwd_in, regather) - t.bwd_in
                                                : reduce + regather;
          }
        }
        p.fp8_casts(t, t.m * t.k, t.m * t.n);
        op_saved = (o.saved_replicated ? op_saved * p.T / p.rep_div() : op_saved * p.T / p.tp) *
                   p.fp8_saved_factor(input_kept_by_attention);
        largest_op_bytes = std::max(largest_op_bytes, o.bytes_per_token * act * p.T / (o.split == Split::none ? 1 : p.tp));
        break;
      }
      case OpKind::expert_matmul: {
        double params = 0;
        t = p.expert_matmul(o, params);
        p.fp8_casts(t, t.m * t.k, t.m * t.n);
        bc.expert_params += params;
        bc.model_flops += (o.fwd_flops_per_token + o.bwd_flops_per_token) * p.T / p.rep_div();
        op_saved = op_saved * p.T / p.rep_div() * p.fp8_saved_factor(false);
        expert_tokens_bytes = std::max(expert_tokens_bytes, double(o.dims[3]) * p.T / p.rep_div());
        break;
      }
      case OpKind::router: {
        double n = double(o.dims[0]), k = double(o.dims[1]);
        double tok = p.T / p.rep_div();
        t.fwd = gemm_time_s(gpu, DType::fp32, tok, n, k);
        t.bwd_in = gemm_time_s(gpu, DType::fp32, tok, k, n);
        t.bwd_w = gemm_time_s(gpu, DType::fp32, k, n, tok);
        bc.dense_params += o.params;
        bc.model_flops += (o.fwd_flops_per_token + o.bwd_flops_per_token) * tok;
        op_saved = op_saved * tok;
        break;
      }
      case OpKind::attention: {
        double extra = 0;
        t = p.attention(o, extra);
        has_attention = true;
        bc.model_flops += (o.fwd_flops_per_token + o.bwd_flops_per_token) * p.T / p.tp *
                          (double(c.seq_len) / double(g.seq_len));
        saved_attention_core += extra;
        op_saved = op_saved * p.T / p.tp;
        attn_core_fwd += t.fwd;
        if (c.cp > 1) {
          // Ring attention: cp-1 exchanges of this rank's K and V (and their gradients backward),
          // overlapped with the attention of the chunk already present.
          double kv = double(o.dims[1]) / p.tp * double(o.dims[2] + o.dims[3]) * p.T * act_bytes(p.act_dtype);
          double step_fwd = all_gather_s(c.cp_group, kv * double(c.cp)) / double(c.cp - 1);
          double step_bwd = 2 * step_fwd;
          double chunks = double(c.cp);
          bc.cp_comm_s += std::max(0.0, (chunks - 1) * (step_fwd - t.fwd / chunks)) +
                          std::max(0.0, (chunks - 1) * (step_bwd - t.bwd_in / chunks));
        }
        break;
      }
      case OpKind::embedding: {
        double params = o.params / p.tp;
        bc.dense_params += params;
        t = p.memory_bound(o, p.T);
        // Vocab-parallel embedding: partial lookups are all-reduced (reduce-scattered with SP, whose
        // backward all-gathers the output gradient back, as a row-parallel layer's does).
        const double width = double(o.dims[1]) * p.T * act_bytes(p.act_dtype);
        tp_fwd += tp_collective(c, width, false);
        if (c.sp) tp_bwd += tp_collective(c, width, true);
        op_saved = 0;
        break;
      }
      case OpKind::loss: {
        // Vocab-parallel cross-entropy as Megatron runs it by default (tensor_parallel/
        // cross_entropy.py; Megatron-Core's --cross-entropy-loss-fusion is off by default): the
        // 16-bit logits of T x V/tp are cast to fp32 and streamed pass by pass. In fp32-element
        // units (4 B per logit): forward cast (read 2 + write 4 B: 1.5), row max (read: 1),
        // subtract the max in place (2), exp in place (2), sum (1), divide by the sum in place (2):
        // 9.5 units in 6 kernels; backward: scale the saved softmax by the loss gradient in place
        // (2) and the cast back to 16 bits (read 4 + write 2 B: 1.5): 3.5 units in 2 kernels.
        // Two all-reduces over TP of per-token fp32 values: the row max, then the target logit
        // and sum-exp (each pays the latency).
        double bytes = double(o.dims[0]) / p.tp * p.T * 4;
        t.fwd = memory_time_s(gpu, 9.5 * bytes, 6);
        if (c.tp > 1) tp_fwd += all_reduce_s(c.tp_group, p.T * 4) + all_reduce_s(c.tp_group, 2 * p.T * 4);
        t.bwd_in = memory_time_s(gpu, 3.5 * bytes, 2);
        op_saved = bytes;
        largest_op_bytes = std::max(largest_op_bytes, 2 * bytes);
        break;
      }
      case OpKind::norm:
      case OpKind::elementwise: {
        double div = o.tp_replicated ? p.rep_div() : (o.split == Split::experts ? p.rep_div() : p.tp);
        tokens_here = p.T / div;
        t = p.memory_bound(o, tokens_here);
        if (o.kind == OpKind::norm) bc.dense_params += o.params;
        op_saved = o.dropout ? double(o.dims[0]) * tokens_here * o.token_factor : op_saved * tokens_here;
        if (o.split == Split::experts) op_saved = o.saved_bytes_per_token * act * p.T / p.rep_div();
        break;
      }
    }
    saved += op_saved;
    input_kept_by_attention = o.kind == OpKind::attention && c.flash;
    bc.fwd_s += t.fwd;
    bc.bwd_input_s += t.bwd_in;
    bc.bwd_weight_s += t.bwd_w;
  }
  // EP: all-to-all dispatch and combine of the routed tokens, forward and backward.
  if (block.is_moe && c.ep > 1) {
    double bytes = expert_tokens_bytes * double(g.hidden) * act_bytes(p.act_dtype);
    const double a2a = 4 * all_to_all_s(c.ep_group, bytes);
    // With --ep-comm-overlap (Megatron-Core's batch-level overlap, DeepSeek's DualPipe) one
    // micro-batch's dispatch and combine run beside another's compute of this block, forward and
    // backward merged: exposed is what the pair adds to the compute, SM contention included.
    const double compute = bc.fwd_s + bc.bwd_input_s + bc.bwd_weight_s;
    bc.ep_comm_s = c.ep_comm_overlap ? beside_collective(gpu, compute, a2a) - compute : a2a;
  }
  tp_bwd += tp_bwd_async;
  bc.tp_comm_s = tp_fwd + tp_bwd;
  bc.fwd_s += tp_fwd + bc.ep_comm_s / 2 + bc.cp_comm_s / 3;
  bc.bwd_input_s += tp_bwd + bc.ep_comm_s / 2 + bc.cp_comm_s * 2 / 3;
  bc.hardware_flops = bc.model_flops;
  double fwd_flops = bc.model_flops / 3;
  // Recompute: full re-runs the block's forward (with its communication); selective re-runs the
  // attention core (Korthikanti §5). Saved activations shrink accordingly.
  double attention_flops_fwd = 0;
  for (int64_t v : block.ops)
    if (g.op(v).kind == OpKind::attention)
      attention_flops_fwd += g.op(v).fwd_flops_per_token * p.T / p.tp * (double(c.seq_len) / double(g.seq_len));
  if (c.recompute == Recompute::full && has_attention) {
    bc.recompute_s = bc.fwd_s;  // includes its TP communication; tp_comm_s counts fwd + bwd only
    bc.hardware_flops += fwd_flops;
    bc.transient_bytes = saved + saved_attention_core;
    saved = double(g.hidden) * p.T * act_bytes(p.act_dtype) / p.rep_div();  // the block input
  } else if (c.recompute == Recompute::selective && has_attention) {
    bc.recompute_s = attn_core_fwd;
    bc.hardware_flops += attention_flops_fwd;
    bc.transient_bytes = saved_attention_core;
  } else {
    saved += saved_attention_core;
  }
  bc.saved_bytes = saved;
  bc.transient_bytes = std::max(bc.transient_bytes, largest_op_bytes);
  bc.boundary_bytes = block.boundary_bytes_per_token * act * p.T / p.rep_div();
  return bc;
}

}  // namespace shardplan
