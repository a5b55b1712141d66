// Per-op pricing (op_pricer.hpp). TP collectives follow Megatron (Narayanan et al. 2021 §2.3;
// Korthikanti et al. 2022 §4.2.2).
#include "costmodel/op_pricer.hpp"

#include <algorithm>
#include <cmath>

#include "core/model_spec.hpp"
#include "costmodel/gemm.hpp"

namespace shardplan::pricing {

OpTimes Pricer::matmul(const Op& o, double& params, bool& col_input_replicated) {
  double n = double(o.dims[0]), k = double(o.dims[1]), tokens = T;
  OpTimes t;
  if (o.split == Split::none) {
    // Not split over TP: the weight is whole on every rank (Megatron's 'duplicated' linear, e.g.
    // MLA's down-projections) and runs on the rank's tokens, the sequence shard under SP.
    params += o.params;
    tokens = T / rep_div();
  } else if (o.split == Split::rows) {
    // A row-parallel linear splits its weight; its bias (what params hold beyond n x k) is added
    // after the reduction, whole on every TP rank (Megatron's RowParallelLinear).
    const double weight = std::min(o.params, n * k);
    k /= tp;
    params += weight / tp + (o.params - weight);
  } else {
    n /= tp;
    params += o.params / tp;
  }
  col_input_replicated = o.split != Split::rows && o.split != Split::none;
  t.m = tokens, t.n = n, t.k = k;
  t.fwd = gemm_time_s(gpu, gemm_dtype, tokens, n, k);
  t.bwd_in = gemm_time_s(gpu, gemm_dtype, tokens, k, n);
  t.bwd_w = gemm_time_s(gpu, gemm_dtype, k, n, tokens);
  return t;
}

void Pricer::fp8_casts(OpTimes& t, double input_elems, double output_elems) const {
  if (gemm_dtype != DType::fp8) return;
  t.fwd += memory_time_s(gpu, 4 * input_elems, 1);
  t.bwd_in += memory_time_s(gpu, 4 * output_elems, 1);
}

double Pricer::fp8_saved_factor(bool input_kept_by_attention) const {
  if (gemm_dtype != DType::fp8) return 1;
  return input_kept_by_attention ? 1.5 : 0.5;
}

OpTimes Pricer::expert_matmul(const Op& o, double& params) {
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

double attention_flops_scale(const Op& o, double seq, double graph_seq) {
  const double w = o.attention_window();
  return attention_keys(seq, w) / attention_keys(graph_seq, w);
}

OpTimes Pricer::attention(const Op& o, double& extra_saved) {
  double heads = double(o.dims[0]) / tp, dq = double(o.dims[2]), dv = double(o.dims[3]);
  double b = double(c.micro_batch), s_q = T / b, s_k = double(c.seq_len);
  const double window = o.attention_window();
  OpTimes t;
  DType math = c.precision == DType::fp8 ? DType::bf16 : c.precision;  // attention stays 16-bit
  if (c.flash) {
    // FlashAttention, causal: the kernel skips masked tiles, half the s x s work. Backward does
    // 2.5x the forward's FLOPs (it recomputes QK^T), FlashAttention-2 §3.
    // A sliding window bounds the keys of every query (the kernel skips the tiles outside it).
    double fwd_flops = 2.0 * b * heads * s_q * attention_keys(s_k, window) * (dq + dv) * 0.5;
    double peak = gpu.peak_flops(math) > 0 ? gpu.peak_flops(math) : gpu.peak_flops(DType::fp32);
    // Short sequences run below the asymptote; under CP each kernel sees one rank's chunk of keys;
    // a query sees at most its window.
    const double keys = window > 0 ? std::min(window, s_k / double(c.cp)) : s_k / double(c.cp);
    peak *= keys / (keys + gpu.attention_ramp_keys) * gpu.sustained_compute_fraction;
    // The preset's default kernel, or the named one (the Estimator checks the preset has it).
    const auto& named = gpu.attention_kernels[size_t(c.attention_kernel)];
    const bool dflt = c.attention_kernel == AttentionKernel::gpu_default || named[0] <= 0;
    // Measured at head dim 128; smaller heads spend more of the kernel on the softmax per FLOP.
    // A head whose Q.K and P.V widths differ (MLA: 192 and 128) counts their mean.
    const AttentionKernel k = dflt ? AttentionKernel::gpu_default : c.attention_kernel;
    const double hd = 0.5 * (dq + dv);
    const double fwd_frac = (dflt ? gpu.attention_fwd_fraction : named[0]) * gpu.attention_head_dim_factor(k, hd, false);
    const double bwd_frac = (dflt ? gpu.attention_bwd_fraction : named[1]) * gpu.attention_head_dim_factor(k, hd, true);
    t.fwd = fwd_flops / (peak * fwd_frac) + gpu.kernel_overhead_us * 1e-6;
    t.bwd_in = 2.5 * fwd_flops / (peak * bwd_frac) + gpu.kernel_overhead_us * 1e-6;
  } else {
    // Unfused (Megatron 2021): batched QK^T and AV GEMMs over all s x s scores (a sliding window
    // is a mask on them, so it saves nothing here), and memory-bound
    // scale-mask-softmax and dropout on the scores in 16-bit.
    double bh = b * heads;
    double elems = bh * s_q * s_k;
    t.fwd = gemm_time_s(gpu, math, s_q, s_k, dq, bh) + gemm_time_s(gpu, math, s_q, dv, s_k, bh);
    // Bytes per score beyond the GEMMs' own traffic (gemm_time_s already counts QK^T writing the
    // scores and AV reading the probabilities), in 16-bit: softmax read 2 + write 2; with
    // attention dropout also read 2 + write 2 + a 1-byte mask (GPT lineage). fp32 scores double
    // the 2s.
    const double w = act_bytes(act_dtype) / 2;
    t.fwd += memory_time_s(gpu, elems * (attn_dropout ? 8 * w + 1 : 4 * w), attn_dropout ? 2 : 1);
    t.bwd_in = gemm_time_s(gpu, math, s_q, s_k, dv, bh) + gemm_time_s(gpu, math, s_q, dq, s_k, bh) +
               gemm_time_s(gpu, math, s_k, dv, s_q, bh) + gemm_time_s(gpu, math, s_k, dq, s_q, bh);
    // Backward bytes per score beyond the GEMMs' (which write dP, read P for dV and dS for dQ and
    // dK): softmax backward reads y and dy and writes dx 6; with dropout its backward adds read 2
    // + mask 1 + write 2.
    t.bwd_in += memory_time_s(gpu, elems * (attn_dropout ? 10 * w + 1 : 6 * w), attn_dropout ? 3 : 2);
    // Softmax output (2), dropout mask (1) and dropout output (2) per score: the 5as/h term.
    // The scores are in the activation dtype (4 bytes each in fp32); the mask is 1 byte.
    const double score = act_bytes(act_dtype);
    extra_saved = (attn_dropout ? 2 * score + 1 : score) * elems;
  }
  return t;
}

OpTimes Pricer::memory_bound(const Op& o, double tokens) {
  double bytes = o.bytes_per_token * tokens * act_bytes(act_dtype) / 2;
  if (o.dropout) bytes += double(o.dims[0]) * tokens;  // write the 1-byte mask
  OpTimes t;
  t.fwd = memory_time_s(gpu, bytes);
  t.bwd_in = memory_time_s(gpu, bytes * kBwdBytesFactor);
  return t;
}

double tp_collective(const ShardContext& c, double bytes, bool gather) {
  // Without SP every TP collective is an all-reduce; with SP an all-gather or reduce-scatter of
  // the same tensor (half the all-reduce's traffic each).
  if (c.tp <= 1) return 0;
  if (!c.sp) return all_reduce_s(c.tp_group, bytes);
  return gather ? all_gather_s(c.tp_group, bytes) : reduce_scatter_s(c.tp_group, bytes);
}

}  // namespace shardplan::pricing
