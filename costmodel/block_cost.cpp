// One block's cost: its ops priced one by one (op_pricer.hpp) and summed, with the TP collectives
// each GEMM exposes (Megatron's, or Transformer Engine's overlap), the EP all-to-all, CP's ring
// exchange, the recompute mode and the activations the block keeps.
#include "costmodel/block_cost.hpp"

#include <algorithm>
#include <cmath>

#include "costmodel/gemm.hpp"
#include "costmodel/gpu_variation.hpp"
#include "costmodel/op_sac.hpp"
#include "costmodel/op_pricer.hpp"
#include "costmodel/tp_overlap.hpp"

namespace shardplan {

using namespace pricing;

namespace {
// The GPU as the job's slowest one runs: its tensor-core rates (GEMM and fused attention) scaled
// down by the spread across the job's GPUs; memory-bound kernels keep the median's bandwidth.
GpuSpec slowest_of_job(const GpuSpec& gpu, const ShardContext& c) {
  GpuSpec slow = gpu;
  slow.sustained_compute_fraction /= c.slowest_gpu;
  return slow;
}
}  // namespace

BlockCost price_block(const OpGraph& g, const Block& block, const GpuSpec& median_gpu, const ShardContext& c) {
  const GpuSpec gpu = slowest_of_job(median_gpu, c);
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
  double attn_core_fwd = 0, attention_flops_fwd = 0;
  double saved = 0, saved_attention_core = 0;
  double expert_tokens_bytes = 0;
  double largest_op_bytes = 0;
  bool has_attention = false;
  bool input_kept_by_attention = false;  // the op before was fused attention (which keeps its output)
  const double act_b = act_bytes(p.act_dtype);
  OpSacTally sac;  // what recompute=op keeps and re-runs (used when the block is a layer)
  for (int64_t v : block.ops) {
    const Op& o = g.op(v);
    OpTimes t;
    double tokens_here = p.T;
    double op_saved = o.saved_bytes_per_token * act;
    switch (o.kind) {
      case OpKind::matmul: {
        bool replicated_input = false;
        double params = 0;
        const double tp_fwd_before = tp_fwd;
        t = p.matmul(o, params, replicated_input);
        bc.dense_params += params;
        add_module_tensors(bc, params, 1);  // fused QKV and gated fc1 (Megatron-DeepSpeed)
        if (p.gemm_dtype == DType::fp8) bc.fp8_weight_params += params;
        // The rank's share of the model's FLOPs: 1/tp of the op, split or (a duplicated linear,
        // Split::none) run on the sequence shard under SP, on every token without (then the
        // duplicate work is the ranks' time, not model FLOPs).
        const double tokens = o.split == Split::none ? p.T / p.rep_div() : p.T / p.tp;
        bc.model_flops += (o.fwd_flops_per_token + o.bwd_flops_per_token) * p.T / p.tp;
        // Megatron's linear layers (LinearWithGradAccumulationAndAsyncCommunication):
        // column-parallel: forward all-gathers the sequence-sharded input (SP); backward reduces
        // the input gradient (all-reduce, or reduce-scatter with SP) asynchronously behind the
        // weight-gradient GEMM, and with SP re-gathers the input behind the input-gradient GEMM.
        // Row-parallel: forward reduces the output (exposed); backward all-gathers the output
        // gradient (SP, exposed).
        // An asynchronous collective beside a GEMM costs what it adds to the GEMM's time, SM
        // contention included (beside_collective). With --tp-comm-overlap (SP) Transformer Engine
        // pipelines every TP collective with its GEMM (te_* above).
        double width = double(o.split == Split::rows ? o.dims[0] : o.dims[1]) * p.T * act_b;
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
        {
          // recompute=op: a row-parallel GEMM's output is a full-size partial sum on each rank; its
          // reduce-scatter (sequence parallel) keeps the sharded sum and is never re-run.
          const bool rows = o.split == Split::rows;
          const double per_column = rows ? p.T * act_b : tokens * act_b;
          sac.linear(o.linear_outputs, o.dims[0], per_column, t.fwd, o.fwd_flops_per_token * tokens,
                     rows ? 0 : tp_fwd - tp_fwd_before);
          if (rows && c.tp > 1 && c.sp) sac.saved(double(o.dims[0]) * p.T / p.tp * act_b);
        }
        op_saved = (o.saved_replicated ? op_saved * p.T / p.rep_div() : op_saved * p.T / p.tp) *
                   p.fp8_saved_factor(input_kept_by_attention);
        largest_op_bytes = std::max(largest_op_bytes, o.bytes_per_token * act * tokens);
        break;
      }
      case OpKind::expert_matmul: {
        double params = 0;
        t = p.expert_matmul(o, params);
        p.fp8_casts(t, t.m * t.k, t.m * t.n);
        bc.expert_params += params;
        if (p.gemm_dtype == DType::fp8) bc.fp8_weight_params += params;
        // One linear per local expert (dims[2] experts over ep).
        add_module_tensors(bc, params, std::max(1.0, double(o.dims[2]) / double(c.ep)));
        bc.model_flops += (o.fwd_flops_per_token + o.bwd_flops_per_token) * p.T / p.rep_div();
        op_saved = op_saved * p.T / p.rep_div() * p.fp8_saved_factor(false);
        sac.recomputed(t.fwd, o.fwd_flops_per_token * p.T / p.rep_div());  // grouped GEMM: not saved
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
        sac.linear({}, o.dims[0], tok * act_b, t.fwd, o.fwd_flops_per_token * tok, 0);  // the gate
        break;
      }
      case OpKind::attention: {
        double extra = 0;
        t = p.attention(o, extra);
        has_attention = true;
        bc.dense_params += o.params / p.tp;  // attention sinks: one per head, split with the heads
        const double scaled_tokens = p.T / p.tp * attention_flops_scale(o, double(c.seq_len), double(g.seq_len));
        bc.model_flops += (o.fwd_flops_per_token + o.bwd_flops_per_token) * scaled_tokens;
        attention_flops_fwd += o.fwd_flops_per_token * scaled_tokens;
        saved_attention_core += extra;
        op_saved = op_saved * p.T / p.tp;
        attn_core_fwd += t.fwd;
        // recompute=op keeps the fused kernel's output and its fp32 log-sum-exp per head.
        sac.saved(double(o.dims[0]) / p.tp * p.T * (double(o.dims[3]) * act_b + 4));
        if (c.cp > 1) {
          // Ring attention: cp-1 exchanges of this rank's K and V (and their gradients backward),
          // each overlapped with the attention of the chunk already present. Under a sliding
          // window only the keys the window reaches back to move: Transformer Engine's windowed
          // p2p CP (AttnFuncWithCPAndKVP2PSWA) fetches a halo of w keys before each of a rank's
          // two chunks of L = s/(2 cp) queries, 2w tokens of K/V against the ring's 2(cp-1)L,
          // i.e. w/L ring steps' worth (beyond (cp-1)L it all-gathers, the ring's volume).
          double kv = double(o.dims[1]) / p.tp * double(o.dims[2] + o.dims[3]) * p.T * act_b;
          double step_fwd = all_gather_s(c.cp_group, kv * double(c.cp)) / double(c.cp - 1);
          double step_bwd = 2 * step_fwd;
          const double w = o.attention_window();
          const double steps = std::min(double(c.cp - 1), w > 0 ? w * 2.0 * double(c.cp) / double(c.seq_len) : 1e300);
          bc.cp_comm_s += std::max(0.0, steps * (step_fwd - t.fwd / (steps + 1))) +
                          std::max(0.0, steps * (step_bwd - t.bwd_in / (steps + 1)));
        }
        break;
      }
      case OpKind::embedding: {
        // The vocab x hidden word table is split over TP; parameters beyond it (GPT's learned
        // position embedding, s x hidden) are a plain table, whole on every TP rank (Megatron's
        // LanguageModelEmbedding: a VocabParallelEmbedding and an nn.Embedding).
        const double table = double(o.dims[0]) * double(o.dims[1]);
        const double words = std::min(o.params, table) / p.tp, positions = std::max(0.0, o.params - table);
        bc.dense_params += words + positions;
        add_module_tensors(bc, words, 1);
        if (positions > 0) add_module_tensors(bc, positions, 1);
        t = p.memory_bound(o, p.T);
        // Vocab-parallel embedding: partial lookups are all-reduced (reduce-scattered with SP, whose
        // backward all-gathers the output gradient back, as a row-parallel layer's does).
        const double width = double(o.dims[1]) * p.T * act_b;
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
        sac.recomputed(t.fwd);
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
    double bytes = expert_tokens_bytes * double(g.hidden) * act_b;
    const double a2a = 4 * all_to_all_s(c.ep_group, bytes);
    sac.saved(2 * bytes);  // recompute=op keeps the dispatch and combine all-to-all outputs
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
  // attention core (Korthikanti §5); op keeps the block input and what OpSacTally saved and re-runs
  // the rest. Saved activations shrink accordingly.
  if (c.recompute == Recompute::full && has_attention) {
    bc.recompute_s = bc.fwd_s;  // includes its TP communication; tp_comm_s counts fwd + bwd only
    bc.hardware_flops += fwd_flops;
    bc.transient_bytes = saved + saved_attention_core;
    saved = double(g.hidden) * p.T * act_b / p.rep_div();  // the block input
  } else if (c.recompute == Recompute::op && has_attention) {
    bc.recompute_s = sac.recompute_s;
    bc.hardware_flops += sac.recompute_flops;
    bc.transient_bytes = saved + saved_attention_core;  // the layer's activations, rebuilt
    saved = double(g.hidden) * p.T * act_b / p.rep_div() + sac.saved_bytes;
  } else if (c.recompute == Recompute::selective && has_attention) {
    bc.recompute_s = attn_core_fwd;
    bc.hardware_flops += attention_flops_fwd;
    bc.transient_bytes = saved_attention_core;
  } else {
    saved += saved_attention_core;
  }
  if (c.recompute == Recompute::full || c.recompute == Recompute::op)
    bc.rebuilt_bytes = std::max(0.0, bc.transient_bytes - saved);
  bc.saved_bytes = saved;
  bc.transient_bytes = std::max(bc.transient_bytes, largest_op_bytes);
  bc.boundary_bytes = block.boundary_bytes_per_token * act * p.T / p.rep_div();
  return bc;
}

ShardContext shard_context(const Strategy& s, const ClusterSpec& cluster, int64_t seq_len) {
  ShardContext c;
  c.tp = s.tp;
  c.cp = s.cp;
  c.ep = s.ep;
  c.micro_batch = s.micro_batch;
  c.seq_len = seq_len;
  c.sp = s.sp;
  c.flash = s.flash_attention;
  c.attention_kernel = s.attention_kernel;
  c.tp_comm_overlap = s.tp_comm_overlap;
  c.async_tp_backward = s.async_tp_backward;
  // Overlap needs a second micro-batch in flight to run beside.
  c.ep_comm_overlap = s.ep_comm_overlap && s.micro_batches() >= 2;
  c.recompute = s.recompute;
  c.precision = s.precision;
  c.tp_group = place_group(cluster, s.tp, 1);
  c.cp_group = place_group(cluster, s.cp, s.tp);
  c.ep_group = place_group(cluster, s.ep, 1);
  c.slowest_gpu = slowest_gpu_factor(cluster.gpu, s.gpus());
  return c;
}

}  // namespace shardplan
