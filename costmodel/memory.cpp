// Stage memory. Activations: one micro-batch of the stage's chunks times the micro-batches in
// flight at the peak (1F1B: p - stage; interleaved: Megatron's warm-up count, chunk by chunk;
// GPipe: all m; ZB-H1: p). The largest transient working set (a recomputed layer, logits) is
// working_bytes.
#include "costmodel/memory.hpp"

#include <algorithm>
#include <vector>

namespace shardplan {

StateBytes state_bytes(DType p, DType grad_reduce) {
  // Mixed precision keeps fp32 gradients (Megatron: 18 bytes per parameter) or, reduced in 16
  // bits, 2-byte ones (the ZeRO paper's 16 bytes per parameter).
  const double grads = dtype_bytes(grad_reduce);
  switch (p) {
    case DType::fp32:
    case DType::tf32: return {4, 4, 8};        // weights are the master copy: Adam m, v only
    // 16-bit weights. FP8 training too: bf16 weights (the FP8 copies of the GEMMs' weights are
    // fp8_weight_cache_bytes), or with fp8_param_gather 1 B of FP8 data (Megatron's uint8
    // parameter buffer) and the 1 B transpose TE keeps (Float8Tensor update_usage) for the
    // FP8-GEMM weights and bf16 for the embedding, output layer and norms: 2 B either way.
    default: return {2, grads, 12};
  }
}

double fp8_weight_cache_bytes(const Strategy& s) {
  if (s.precision != DType::fp8 || s.fp8_param_gather || params_sharded_in_step(s)) return 0;
  return 2;
}

namespace {
// Bytes per parameter of the compute copy ZeRO all-gathers (fp32 training: the weights).
double gathered_param_bytes(const Strategy& s) {
  return s.precision == DType::fp32 || s.precision == DType::tf32 ? 4 : 2;
}
}  // namespace

double gathered_bytes(const Strategy& s, double params, double fp8_params) {
  if (!s.fp8_param_gather) return params * gathered_param_bytes(s);
  const double fp8 = std::clamp(fp8_params, 0.0, params);
  return fp8 + 2 * (params - fp8);
}

double gathered_weights_elems(const Strategy& s, double max_block_params, double max_module_params) {
  switch (s.zero3_impl) {
    case Zero3Impl::deepspeed: return std::min(2 * max_block_params, max_module_params + 5e7);
    case Zero3Impl::deepspeed_2021: return std::min(2 * max_block_params, 2 * max_module_params + 5e7);
    default: return 2 * max_block_params;
  }
}

double gathered_weights_bytes(const Strategy& s, double max_block_params, double max_module_params,
                              double max_block_16bit_params) {
  const double elems = gathered_weights_elems(s, max_block_params, max_module_params);
  return gathered_bytes(s, elems, elems - std::min(elems, 2 * max_block_16bit_params));
}

double full_gradient_elems(const Strategy& s, double max_block_params, double max_module_params) {
  if (s.zero == 3 && per_module_gathers(s.zero3_impl)) return std::min(max_block_params, max_module_params + 5e8);
  // With the reduction overlapped, two blocks': the one whose reduce-scatter runs and the one the
  // backward produces beside it (FSDP2 waits on the previous reduce-scatter only when issuing the
  // next; the simulator's window). Without, each is reduced before the next is computed.
  return (s.overlap_grad_reduce ? 2 : 1) * max_block_params;
}

double zb_pending_weight_passes(const Strategy& s, int64_t stage) {
  return std::min(double(s.micro_batches()), double(stage) + 1);
}

double inflight_micro_batches(const Strategy& s, int64_t stage) {
  const double m = double(s.micro_batches());
  const double p = double(s.pp), v = double(s.vp), i = double(stage);
  switch (s.schedule) {
    case Schedule::gpipe: return m;
    case Schedule::interleaved: {
      double passes = std::min(m * v, (p - i - 1) * 2 + (v - 1) * p + 1);
      return passes / v;
    }
    // ZB-H1 (Qi et al. 2023 §2.1): stage i keeps i weight passes pending behind its p - i
    // micro-batches of 1F1B, and a micro-batch's activations stay until its W pass.
    case Schedule::zero_bubble: return std::min(m, p);
    default: return std::min(m, p - i);
  }
}

namespace {
bool same_saved(const std::vector<ChunkTotals>& chunks, const Strategy& s, int64_t stage) {
  for (int64_t c = 1; c < s.vp; ++c)
    if (chunks[c * s.pp + stage].saved_bytes != chunks[stage].saved_bytes) return false;
  return true;
}
}  // namespace

double interleaved_peak_bytes(const Strategy& s, int64_t stage, const std::vector<ChunkTotals>& chunks) {
  const int64_t p = s.pp, v = s.vp, total = s.micro_batches() * v, group = p * v;
  const int64_t warm = std::min(total, (p - stage - 1) * 2 + (v - 1) * p);
  // Passes of chunk c among the first k of the order, forward (chunk c) or backward (c' = v-1-c).
  auto passes = [&](int64_t k, int64_t c) { return (k / group) * p + std::clamp<int64_t>(k % group - c * p, 0, p); };
  auto saved = [&](int64_t c) { return chunks[c * p + stage].saved_bytes; };
  // The sum as (warm + 1) chunks of a common size plus what the chunks of another size add: a
  // middle chunk is the common one (the embedding's and the head's are at the ends).
  const double base = saved(v / 2);
  std::vector<int64_t> odd;
  for (int64_t c = 0; c < v; ++c)
    if (saved(c) != base) odd.push_back(c);
  auto held = [&](int64_t forwards, int64_t backwards) {
    double bytes = base * double(forwards - backwards);
    for (int64_t c : odd) bytes += double(passes(forwards, c) - passes(backwards, v - 1 - c)) * (saved(c) - base);
    return bytes;
  };
  if (warm == total) return held(total, 0);
  // Step j holds warm + 1 passes in all (forwards warm + 1 + j, backwards j); each chunk's count
  // is piecewise linear in j with period pv, bending where a forward or backward group of it
  // starts or ends, so the largest sum is at one of the odd chunks' bends (or an end of the range).
  const int64_t steps = std::min(group, total - warm);
  double peak = std::max(held(warm + 1, 0), held(warm + steps, steps - 1));
  auto at = [&](int64_t j) {
    j = ((j % group) + group) % group;
    if (j < steps) peak = std::max(peak, held(warm + 1 + j, j));
  };
  for (int64_t c : odd) {
    for (int64_t edge : {c * p, (c + 1) * p}) at(edge - warm - 1);
    for (int64_t edge : {(v - 1 - c) * p, (v - c) * p}) at(edge);
  }
  return peak;
}

std::vector<StageMemory> stage_memory(const Strategy& s, const ClusterSpec& cluster, const OpGraph& g,
                                      const std::vector<ChunkTotals>& chunks) {
  (void)g;
  return stage_memory_of(s, cluster, stage_totals(s, chunks), &chunks);
}

std::vector<StageMemory> stage_memory_of(const Strategy& s, const ClusterSpec& cluster,
                                         const std::vector<ChunkTotals>& st,
                                         const std::vector<ChunkTotals>* chunks) {
  const bool by_chunk = s.schedule == Schedule::interleaved && s.vp > 1 && chunks &&
                        chunks->size() == static_cast<size_t>(s.pp * s.vp);
  std::vector<StageMemory> out(s.pp);
  const StateBytes sb = state_bytes(s);
  // ZeRO shards over the gradient replicas: dp*cp ranks (expert layers: dp*cp*tp/ep).
  const double dp = double(s.dp * s.cp), edp = double(std::max<int64_t>(1, s.dp * s.cp * s.tp / s.ep));
  const bool zp = params_sharded_in_step(s), zg = grads_sharded_in_step(s);
  for (int64_t i = 0; i < s.pp; ++i) {
    StageMemory& m = out[i];
    const double d = st[i].dense_params, e = st[i].expert_params;
    m.params_bytes = d * sb.weights / (zp ? dp : 1) + e * sb.weights / (zp ? edp : 1) +
                     st[i].fp8_weight_params * fp8_weight_cache_bytes(s);
    // ZeRO-3's gathered weights beside the shard (two blocks under FSDP).
    if (zp)
      m.params_bytes += gathered_weights_bytes(s, st[i].max_block_params, st[i].max_module_params,
                                               st[i].max_block_16bit_params);
    m.grads_bytes = d * sb.grads / (zg ? dp : 1) + e * sb.grads / (zg ? edp : 1);
    // ZeRO-2/3: a block's (DeepSpeed: a module's) gradient is computed in full, then
    // reduce-scattered into the shard.
    if (zg) m.grads_bytes += full_gradient_elems(s, st[i].max_block_params, st[i].max_module_params) * sb.grads;
    m.optimizer_bytes = d * sb.optimizer / (s.zero >= 1 ? dp : 1) + e * sb.optimizer / (s.zero >= 1 ? edp : 1);
    m.inflight_micro_batches = inflight_micro_batches(s, i);
    m.activations_bytes = m.inflight_micro_batches * st[i].saved_bytes;
    // ZB-H1 with full or op recompute: the micro-batches whose W pass is pending hold what the
    // B pass rebuilt (the weight gradients need the layers' inputs), not just the checkpoint.
    if (s.schedule == Schedule::zero_bubble)
      m.activations_bytes += zb_pending_weight_passes(s, i) * st[i].rebuilt_bytes;
    // Chunks that save different amounts (the embedding's, the head's) are held in the
    // proportions the order has them in, not as an average.
    if (by_chunk && !same_saved(*chunks, s, i)) m.activations_bytes = interleaved_peak_bytes(s, i, *chunks);
    m.working_bytes = st[i].transient_bytes;
    // Pipeline send/recv buffers: the activations this stage sends and the gradients of them it
    // receives, and the activations it receives (the stage before sends them; under interleaving
    // the last stage's chunks send to stage 0) and the gradients of those it sends.
    m.buffers_bytes = s.pp > 1 ? 2 * (st[i].boundary_bytes + st[(i + s.pp - 1) % s.pp].boundary_bytes) : 0;
    double sum = m.params_bytes + m.grads_bytes + m.optimizer_bytes + m.activations_bytes +
                 m.working_bytes + m.buffers_bytes;
    m.runtime_bytes = cluster.gpu.runtime_reserved_bytes + cluster.gpu.allocator_fragmentation * sum;
    m.total_bytes = sum + m.runtime_bytes;
  }
  return out;
}

}  // namespace shardplan
