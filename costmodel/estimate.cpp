// The analytic estimate: check the strategy, price each block (cached by sharded shape), cut the
// pipeline, then assemble step time (pipeline with its bubble, p2p, exposed DP communication,
// optimizer), FLOPs and per-stage memory.
#include "costmodel/estimate.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <cstdio>
#include <map>
#include <numeric>

#include "costmodel/collectives.hpp"
#include "costmodel/gemm.hpp"
#include "costmodel/memory.hpp"
#include "costmodel/partition.hpp"
#include "costmodel/pipeline.hpp"

namespace shardplan {

const char* reason_name(Reason r) {
  static const char* n[] = {"ok",       "gpu_count",    "heads_tp", "batch",           "layers_pp",
                            "schedule", "experts_ep",   "seq_cp",   "tp_across_nodes", "precision",
                            "options",  "out_of_memory", "framework"};
  return n[static_cast<int>(r)];
}

struct Estimator::Prepared {
  ShardContext ctx;
  std::vector<int64_t> bounds;
  std::vector<ChunkTotals> chunks;
};

namespace {
// The width a dense matmul's TP split divides: a column-parallel layer's output, a row-parallel
// layer's input; 0 for unsplit layers, the vocabulary-parallel head and expert GEMMs.
std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(int64_t{1} << 30));
  return buf;
}

int64_t tp_split_width(const Op& o) {
  if (o.kind != OpKind::matmul) return 0;
  if (o.split == Split::columns) return o.dims[0];
  if (o.split == Split::rows) return o.dims[1];
  return 0;
}
}  // namespace

Estimator::~Estimator() = default;
Estimator::Estimator(Estimator&&) noexcept = default;

Estimator::Estimator(const OpGraph& graph, const ClusterSpec& cluster, EstimatorOptions opts)
    : graph_(graph), cluster_(cluster), opts_(opts), scratch_(std::make_unique<Prepared>()),
      scratch_inputs_(std::make_unique<PipelineInputs>()) {
  std::map<std::string, int64_t> types;
  for (size_t b = 0; b < graph_.blocks.size(); ++b) {
    auto [it, inserted] =
        types.emplace(graph_.blocks[b].type, static_cast<int64_t>(type_rep_.size()));
    if (inserted) type_rep_.push_back(b);
    type_of_block_.push_back(it->second);
  }
  experts_ = graph_.experts();
  for (size_t v = 0; v < graph_.op_count(); ++v) {
    const Op& o = graph_.op(static_cast<int64_t>(v));
    if (o.kind == OpKind::attention) {
      heads_ = heads_ == 0 ? o.dims[0] : std::gcd(heads_, o.dims[0]);
      kv_heads_ = kv_heads_ == 0 ? o.dims[1] : std::gcd(kv_heads_, o.dims[1]);
    }
    if (const int64_t w = tp_split_width(o)) tp_width_ = std::gcd(tp_width_, w);
  }
  type_prefix_.assign(type_rep_.size(), std::vector<int64_t>(graph_.blocks.size() + 1, 0));
  for (size_t t = 0; t < type_rep_.size(); ++t)
    for (size_t b = 0; b < graph_.blocks.size(); ++b)
      type_prefix_[t][b + 1] =
          type_prefix_[t][b] + (type_of_block_[b] == static_cast<int64_t>(t) ? 1 : 0);
}

Reason Estimator::check(const Strategy& s, std::string* detail) const {
  // The reason text is built only when asked for (the planner evaluates millions of strategies).
  auto fail = [&](Reason r, auto&& why) {
    if (detail) *detail = why();
    return r;
  };
  const int64_t gpus = cluster_.total_gpus();
  if (s.dp < 1 || s.tp < 1 || s.pp < 1 || s.cp < 1 || s.ep < 1 || s.vp < 1 || s.micro_batch < 1)
    return fail(Reason::gpu_count, [&] {
      return std::string("every parallel size and the micro-batch must be >= 1");
    });
  if (s.gpus() != gpus)
    return fail(Reason::gpu_count, [&] {
      return std::string("dp*tp*pp*cp = " + std::to_string(s.gpus()) + " but the cluster has " +
                         std::to_string(gpus) + " GPUs");
    });
  // heads_ and kv_heads_ are the gcd over every attention op of the graph.
  if (heads_ > 0 && (heads_ % s.tp != 0 || kv_heads_ % s.tp != 0))
    return fail(Reason::heads_tp, [&] {
      return std::string("heads (" + std::to_string(heads_) + ") and kv_heads (" +
                         std::to_string(kv_heads_) +
                         ") must be divisible by tp = " + std::to_string(s.tp));
    });
  // Megatron's ColumnParallelLinear and RowParallelLinear require the split width (ffn_hidden,
  // heads x head_dim) to divide by tp; the vocabulary is padded instead, so the head is not here.
  if (tp_width_ > 0 && tp_width_ % s.tp != 0)
    return fail(Reason::heads_tp, [&] {
      for (size_t v = 0; v < graph_.op_count(); ++v) {
        const Op& o = graph_.op(static_cast<int64_t>(v));
        if (const int64_t w = tp_split_width(o); w % s.tp != 0)
          return "the width " + std::to_string(w) + " that tp splits in " + o.name +
                 " is not divisible by tp = " + std::to_string(s.tp);
      }
      return std::string("a TP-split width is not divisible by tp");
    });
  if (s.global_batch % (s.dp * s.micro_batch) != 0)
    return fail(Reason::batch, [&] {
      return std::string(
          "global batch " + std::to_string(s.global_batch) +
          " is not divisible by dp*micro_batch = " + std::to_string(s.dp * s.micro_batch));
    });
  const int64_t m = s.global_batch / (s.dp * s.micro_batch);
  const int64_t chunks = s.pp * s.vp;
  const int64_t layer_blocks = static_cast<int64_t>(graph_.blocks.size()) - 2;
  if (chunks > std::max<int64_t>(layer_blocks, 1) && chunks > 1)
    return fail(Reason::layers_pp, [&] {
      return std::string("pp*vp = " + std::to_string(chunks) + " chunks but only " +
                         std::to_string(std::max<int64_t>(layer_blocks, 1)) + " layers to cut");
    });
  if (s.schedule == Schedule::interleaved) {
    if (s.vp < 2 || s.pp < 2)
      return fail(Reason::schedule,
                  [&] { return std::string("the interleaved schedule needs pp > 1 and vp > 1"); });
    if (m % s.pp != 0)
      return fail(Reason::schedule, [&] {
        return std::string("interleaved: micro-batches (" + std::to_string(m) +
                           ") must be a multiple of pp");
      });
  } else if (s.vp != 1) {
    return fail(Reason::schedule,
                [&] { return std::string("vp > 1 needs the interleaved schedule"); });
  }
  if (s.ep > 1) {
    if (experts_ == 0)
      return fail(Reason::experts_ep,
                  [&] { return std::string("ep > 1 on a model without experts"); });
    if (experts_ % s.ep != 0)
      return fail(Reason::experts_ep, [&] {
        return std::string("experts (" + std::to_string(experts_) +
                           ") not divisible by ep = " + std::to_string(s.ep));
      });
    // Megatron-Core carves the expert groups out of the dp*cp*tp ranks of a stage.
    if ((s.dp * s.cp * s.tp) % s.ep != 0)
      return fail(Reason::experts_ep, [&] {
        return std::string("ep = " + std::to_string(s.ep) +
                           " must divide dp*cp*tp = " + std::to_string(s.dp * s.cp * s.tp));
      });
  }
  if (s.cp > 1 && graph_.seq_len % (2 * s.cp) != 0)
    return fail(Reason::seq_cp, [&] {
      return std::string("sequence " + std::to_string(graph_.seq_len) +
                         " not divisible by 2*cp (causal load balancing)");
    });
  // Sequence parallelism splits each CP rank's tokens over the TP group (Megatron's
  // scatter_to_sequence_parallel_region asserts the split is even, tensor_parallel/mappings.py).
  if (s.sp && s.tp > 1 && (graph_.seq_len / s.cp) % s.tp != 0)
    return fail(Reason::seq_cp, [&] {
      return std::string("sequence " + std::to_string(graph_.seq_len / s.cp) +
                         (s.cp > 1 ? " per CP rank" : "") + " not divisible by tp = " + std::to_string(s.tp) +
                         " (sequence parallelism)");
    });
  // TP groups are consecutive ranks: inside the NVLink domain only if tp divides it (tp = 6 on
  // 8-GPU nodes puts ranks 6-11 in one group, across two nodes).
  if (!opts_.allow_tp_across_nodes && s.tp > 1 && cluster_.domain_size(0) % s.tp != 0)
    return fail(Reason::tp_across_nodes, [&] {
      const int64_t dom = cluster_.domain_size(0);
      return std::string("tp = " + std::to_string(s.tp) +
                         (s.tp > dom ? " exceeds the NVLink domain (" : " does not divide the NVLink domain (") +
                         std::to_string(dom) + " GPUs)");
    });
  if (cluster_.gpu.peak_flops(s.precision) <= 0 && s.precision != DType::fp32)
    return fail(Reason::precision, [&] {
      return std::string(std::string(cluster_.gpu.name) + " has no " + dtype_name(s.precision) +
                         " math");
    });
  if (!grad_reduce_error(s).empty())
    return fail(Reason::precision, [&] { return grad_reduce_error(s); });
  if (s.sp && s.tp < 2)
    return fail(Reason::options, [&] { return std::string("sequence parallelism needs tp > 1"); });
  if (s.fp8_param_gather && !fp8_param_gather_allowed(s.precision, s.zero))
    return fail(Reason::options, [&] {
      return std::string("--fp8-param-gather needs --precision fp8 and ZeRO >= 1 (the distributed "
                         "optimizer or FSDP gathers the FP8 weights)");
    });
  if (s.tp_comm_overlap && !s.sp)
    return fail(Reason::options,
                [&] { return std::string("--tp-comm-overlap needs sequence parallelism (--sp)"); });
  if (s.attention_kernel != AttentionKernel::gpu_default &&
      (!s.flash_attention || cluster_.gpu.attention_kernels[size_t(s.attention_kernel)][0] <= 0))
    return fail(Reason::options, [&] {
      return !s.flash_attention
                 ? std::string("--attention-kernel names a fused kernel, but attention is unfused (--no-flash-attention)")
                 : cluster_.gpu.name + " has no figures for attention kernel " +
                       attention_kernel_name(s.attention_kernel) + " (its preset's attention_kernels)";
    });
  if (s.zero3_impl != Zero3Impl::fsdp && (s.zero != 3 || s.pp > 1 || experts_ > 0))
    return fail(Reason::options, [&] {
      return std::string("zero3_impl ") + zero3_impl_name(s.zero3_impl) +
             (s.zero != 3   ? " needs ZeRO-3 (--zero 3)"
              : s.pp > 1    ? " needs pp = 1 (DeepSpeed's ZeRO-3 does not run under its pipeline engine)"
                            : " does not run MoE layers (DeepSpeed's engine.py: \"MoE not supported with Stage 3\")");
    });
  if (s.ep_comm_overlap && s.ep < 2)
    return fail(Reason::options,
                [&] { return std::string("--ep-comm-overlap needs expert parallelism (--ep > 1)"); });
  if (experts_ > 0 && s.tp > 1 && !s.sp)
    return fail(Reason::options, [&] {
      return std::string("MoE with tp > 1 needs sequence parallelism (--sp), as in Megatron-Core");
    });
  return Reason::ok;
}

namespace {
uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}
uint64_t ctx_hash(const ShardContext& c) {
  uint64_t h = 1469598103934665603ULL;
  for (uint64_t v : {uint64_t(c.tp), uint64_t(c.cp), uint64_t(c.ep), uint64_t(c.micro_batch),
                     uint64_t(c.seq_len), uint64_t(c.sp), uint64_t(c.flash),
                     uint64_t(c.tp_comm_overlap), uint64_t(c.async_tp_backward), uint64_t(c.ep_comm_overlap), uint64_t(c.attention_kernel), uint64_t(c.recompute), uint64_t(c.precision), std::bit_cast<uint64_t>(c.slowest_gpu)})
    h = mix(h, v);
  return h;
}
}  // namespace

Estimator::CacheEntry& Estimator::entry(const ShardContext& ctx) {
  uint64_t key = ctx_hash(ctx);
  auto it = cache_.find(key);
  if (it == cache_.end() || !(it->second.ctx == ctx)) {
    CacheEntry e{ctx, {}, {}, {}};
    for (size_t rep : type_rep_)
      e.costs.push_back(price_block(graph_, graph_.blocks[rep], cluster_.gpu, ctx));
    it = cache_.insert_or_assign(key, std::move(e)).first;
  }
  return it->second;
}

const std::vector<BlockCost>& Estimator::type_costs(const ShardContext& ctx) {
  return entry(ctx).costs;
}

const std::vector<int64_t>& Estimator::partition(const Strategy& s, CacheEntry& e) {
  const int64_t chunks = s.pp * s.vp;
  auto found = e.partitions.find(chunks);
  if (found != e.partitions.end()) return found->second;
  const int64_t nb = static_cast<int64_t>(graph_.blocks.size());
  const bool transformer =
      nb >= 3 && graph_.blocks.front().type == "embedding" && graph_.blocks.back().type == "head";
  std::vector<int64_t> bounds;
  if (chunks == 1) {
    bounds = {0, nb};
  } else if (transformer && (nb - 2) % chunks == 0) {
    bounds = even_layer_partition(nb, chunks);
  } else {
    std::vector<double> cost(nb);
    for (int64_t b = 0; b < nb; ++b) {
      const BlockCost& bc = e.costs[type_of_block_[b]];
      cost[b] = bc.fwd_s + bc.bwd_input_s + bc.bwd_weight_s + bc.recompute_s;
    }
    bounds = min_max_partition(cost, chunks);
  }
  return e.partitions.emplace(chunks, std::move(bounds)).first->second;
}

// ZeRO-aware bytes per parameter of model states (weights, gradients, optimizer) on one GPU.
namespace {
struct StateCoefficients {
  double dense = 0, expert = 0, fp8_cache = 0;  // fp8_cache: per FP8-GEMM weight, unsharded
};
StateCoefficients state_coefficients(const Strategy& s) {
  const StateBytes sb = state_bytes(s);
  const double dp = double(s.dp * s.cp), edp = double(std::max<int64_t>(1, s.dp * s.cp * s.tp / s.ep));
  auto per = [&](double d) {
    return sb.weights / (params_sharded_in_step(s) ? d : 1) + sb.grads / (grads_sharded_in_step(s) ? d : 1) +
           sb.optimizer / (s.zero >= 1 ? d : 1);
  };
  return {per(dp), per(edp), fp8_weight_cache_bytes(s)};
}
}  // namespace

const std::vector<int64_t>& Estimator::memory_partition(const Strategy& s, CacheEntry& e,
                                                        const std::vector<ChunkTotals>& chunks) {
  // What the limits depend on besides the block costs of `e`: the cut, ZeRO and its group sizes,
  // the schedule's in-flight counts (1F1B: min(m, p - i)) and the capacity.
  const double capacity =
      opts_.memory_capacity_bytes > 0 ? opts_.memory_capacity_bytes : cluster_.gpu.memory_bytes;
  uint64_t key = 1469598103934665603ULL;
  for (uint64_t v : {uint64_t(s.pp), uint64_t(s.zero), uint64_t(s.dp * s.cp), uint64_t(s.ep),
                     uint64_t(s.tp), uint64_t(s.schedule), uint64_t(s.grad_reduce), uint64_t(s.fp8_param_gather), uint64_t(s.zero3_impl),
                     uint64_t(std::min<int64_t>(s.micro_batches(), s.pp + 1))})
    key = mix(key, v);
  auto found = e.memory_partitions.find(key);
  if (found != e.memory_partitions.end()) return found->second;

  const StateBytes sb = state_bytes(s);
  const StateCoefficients k = state_coefficients(s);
  // Whole-model totals from the current cut's chunks (tied output copy included).
  double states = 0, saved = 0, max_block = 0, max_module = 0, max_16bit = 0, working = 0, boundary = 0;
  for (const ChunkTotals& c : chunks) {
    states += c.dense_params * k.dense + c.expert_params * k.expert + c.fp8_weight_params * k.fp8_cache;
    saved += c.saved_bytes;
    max_block = std::max(max_block, c.max_block_params);
    max_module = std::max(max_module, c.max_module_params);
    max_16bit = std::max(max_16bit, c.max_block_16bit_params);
    working = std::max(working, c.transient_bytes);
    boundary = std::max(boundary, c.boundary_bytes);
  }
  // Per-stage overheads as stage_memory() counts them, bounded by the largest block of the model.
  double overhead = working + 4 * boundary;
  if (params_sharded_in_step(s)) overhead += gathered_weights_bytes(s, max_block, max_module, max_16bit);
  if (grads_sharded_in_step(s)) overhead += full_gradient_elems(s, max_block, max_module) * sb.grads;
  const double usable = (capacity - cluster_.gpu.runtime_reserved_bytes) /
                            (1 + cluster_.gpu.allocator_fragmentation) - overhead;
  double min_scale = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < s.pp; ++i) min_scale = std::min(min_scale, inflight_micro_batches(s, i));
  // No cut fits when the whole model's states and activations (each at the smallest in-flight
  // count) exceed what all stages have together: most overflowing strategies end here, cheaply.
  std::vector<int64_t> bounds;
  if (usable > 0 && states + min_scale * saved <= usable * double(s.pp)) {
    const int64_t nb = static_cast<int64_t>(graph_.blocks.size());
    ChunkMemoryLimits lim;
    std::vector<double> cost(nb);
    for (int64_t b = 0; b < nb; ++b) {
      const BlockCost& bc = e.costs[type_of_block_[b]];
      cost[b] = bc.fwd_s + bc.bwd_input_s + bc.bwd_weight_s + bc.recompute_s;
      lim.fixed.push_back(bc.dense_params * k.dense + bc.expert_params * k.expert + bc.fp8_weight_params * k.fp8_cache);
      lim.scaled.push_back(bc.saved_bytes);
    }
    // The last stage's own copy of a tied output embedding (see sum_chunks()).
    if (graph_.tied_output_params > 0) lim.fixed.back() += graph_.tied_output_params / double(s.tp) * k.dense;
    for (int64_t i = 0; i < s.pp; ++i) {
      lim.scale.push_back(inflight_micro_batches(s, i));
      lim.limit.push_back(usable);
    }
    if (memory_cut_possible(lim, s.pp)) bounds = min_max_partition(cost, s.pp, &lim);
  }
  return e.memory_partitions.emplace(key, std::move(bounds)).first->second;
}

void Estimator::prepare(const Strategy& s, Prepared& p) {
  ShardContext& c = p.ctx;
  c = shard_context(s, cluster_, graph_.seq_len);
  CacheEntry& e = entry(c);
  p.bounds = partition(s, e);
  sum_chunks(s, e, p);
}

void Estimator::sum_chunks(const Strategy& s, const CacheEntry& e, Prepared& p) const {
  p.chunks.assign(p.bounds.size() - 1, ChunkTotals{});
  const std::vector<BlockCost>& costs = e.costs;
  // Chunk totals from the count of each block type in the chunk (few types, many blocks).
  for (size_t ch = 0; ch + 1 < p.bounds.size(); ++ch) {
    const int64_t a = p.bounds[ch], b = p.bounds[ch + 1];
    for (size_t t = 0; t < costs.size(); ++t) {
      int64_t n = type_prefix_[t][b] - type_prefix_[t][a];
      if (n > 0) p.chunks[ch].add(costs[t], n);
    }
    p.chunks[ch].boundary_bytes = costs[type_of_block_[b - 1]].boundary_bytes;
  }
  // Tied embeddings across a pipeline: the last stage holds its own V x h/tp output weight.
  if (s.pp > 1 && graph_.tied_output_params > 0)
    p.chunks.back().dense_params += graph_.tied_output_params / double(s.tp);
}

Estimate Estimator::estimate(const Strategy& s) {
  Estimate e;
  e.reason = check(s, opts_.explain ? &e.detail : nullptr);
  if (e.reason != Reason::ok) return e;
  Prepared& p = *scratch_;  // reused: its vectors keep their storage from strategy to strategy
  prepare(s, p);
  e = assemble(s, p);
  const double capacity =
      opts_.memory_capacity_bytes > 0 ? opts_.memory_capacity_bytes : cluster_.gpu.memory_bytes;
  // Graphs of more than kMaxRecutBlocks blocks keep the time-balanced cut: the per-stage-limit DP
  // scans O(blocks^2) (about 5 ms at 2,048 blocks in 64 stages; a 10,000-block graph would take
  // a tenth of a second per strategy).
  constexpr size_t kMaxRecutBlocks = 2048;
  if (e.peak_memory_bytes > capacity && s.pp > 1 && s.vp == 1 && graph_.blocks.size() <= kMaxRecutBlocks) {
    // Re-cut the pipeline so that each stage fits (Megatron: --pipeline-model-parallel-layout).
    const std::vector<int64_t>& bounds = memory_partition(s, entry(p.ctx), p.chunks);
    if (!bounds.empty() && bounds != p.bounds) {
      Prepared q;
      q.ctx = p.ctx;
      q.bounds = bounds;
      sum_chunks(s, entry(q.ctx), q);
      Estimate alt = assemble(s, q);
      if (alt.peak_memory_bytes < e.peak_memory_bytes) e = std::move(alt);
    }
  }
  return e;
}

Estimate Estimator::assemble(const Strategy& s, const Prepared& p) const {
  Estimate e;
  e.chunk_bounds = p.bounds;
  PipelineInputs& in = *scratch_inputs_;
  pipeline_inputs(s, cluster_, graph_, p.chunks, in);
  PipelineResult pr = pipeline_time(in);
  e.step_time_s = pr.step_s;
  e.breakdown = pr.breakdown;
  const double tokens = double(s.global_batch) * double(graph_.seq_len);
  e.tokens_per_s = tokens / e.step_time_s;
  double model_flops = 0, hw_flops = 0;
  for (const auto& ch : p.chunks) {
    model_flops += ch.model_flops;
    hw_flops += ch.hardware_flops;
  }
  // Chunk FLOPs are per GPU per micro-batch of that chunk; each GPU runs m micro-batches, and the
  // model's FLOPs are spread over tp*cp GPUs per chunk replica.
  const double m = double(s.micro_batches());
  const double per_gpu_model = model_flops * m / double(s.pp);
  const double per_gpu_hw = hw_flops * m / double(s.pp);
  const double peak = cluster_.gpu.peak_flops(s.precision);
  e.model_tflops_per_gpu = per_gpu_model / e.step_time_s / 1e12;
  e.hardware_tflops_per_gpu = per_gpu_hw / e.step_time_s / 1e12;
  e.mfu = per_gpu_model / e.step_time_s / peak;
  e.hfu = per_gpu_hw / e.step_time_s / peak;
  e.bubble_fraction = e.breakdown.pp_bubble_s / e.step_time_s;
  const Breakdown& b = e.breakdown;
  e.exposed_comm_fraction =
      (b.tp_comm_s + b.cp_comm_s + b.ep_comm_s + b.pp_comm_s + b.dp_comm_s) / e.step_time_s;
  e.stages = stage_memory_of(s, cluster_, in.stage, &p.chunks);
  e.fits = true;
  for (size_t i = 0; i < e.stages.size(); ++i) {
    if (e.stages[i].total_bytes > e.peak_memory_bytes) {
      e.peak_memory_bytes = e.stages[i].total_bytes;
      e.peak_stage = static_cast<int64_t>(i);
    }
  }
  if (e.peak_memory_bytes > cluster_.gpu.memory_bytes) {
    e.fits = false;
    e.reason = Reason::out_of_memory;
    e.overflow_bytes = e.peak_memory_bytes - cluster_.gpu.memory_bytes;
    if (opts_.explain)
      e.detail = "stage " + std::to_string(e.peak_stage) + " needs " + gib(e.peak_memory_bytes) + ", " +
                 gib(e.overflow_bytes) + " over the GPU's " + gib(cluster_.gpu.memory_bytes);
  }
  return e;
}

namespace {
bool well_formed_cut(const std::vector<int64_t>& b, int64_t chunks, int64_t blocks) {
  if (static_cast<int64_t>(b.size()) != chunks + 1 || b.front() != 0 || b.back() != blocks) return false;
  for (size_t i = 1; i < b.size(); ++i)
    if (b[i] <= b[i - 1]) return false;
  return true;
}
}  // namespace

Estimate Estimator::estimate(const Strategy& s, const std::vector<int64_t>& bounds) {
  Estimate e;
  e.reason = check(s, opts_.explain ? &e.detail : nullptr);
  if (e.reason != Reason::ok) return e;
  if (!well_formed_cut(bounds, s.pp * s.vp, static_cast<int64_t>(graph_.blocks.size()))) {
    e.reason = Reason::layers_pp;
    e.detail = "the pipeline cut does not give pp*vp = " + std::to_string(s.pp * s.vp) +
               " non-empty chunks of the model's " + std::to_string(graph_.blocks.size()) + " blocks";
    return e;
  }
  Prepared p;
  prepare(s, p);
  if (bounds != p.bounds) {
    p.bounds = bounds;
    sum_chunks(s, entry(p.ctx), p);
  }
  return assemble(s, p);
}

StageCosts Estimator::stage_costs(const Strategy& s) { return stage_costs(s, estimate(s).chunk_bounds); }

StageCosts Estimator::stage_costs(const Strategy& s, const std::vector<int64_t>& bounds) {
  Prepared p;
  prepare(s, p);
  if (well_formed_cut(bounds, s.pp * s.vp, static_cast<int64_t>(graph_.blocks.size())) && bounds != p.bounds) {
    p.bounds = bounds;
    sum_chunks(s, entry(p.ctx), p);
  }
  return make_stage_costs(s, cluster_, graph_, p.chunks);
}

Estimate estimate(const OpGraph& graph, const ClusterSpec& cluster, const Strategy& s) {
  Estimator est(graph, cluster);
  return est.estimate(s);
}

}  // namespace shardplan
