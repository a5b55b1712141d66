// ZeRO-3 as FSDP and as DeepSpeed issue it (core/zero3_impl.hpp): the same bytes, carried by one
// collective per block or one per weight tensor, DeepSpeed's recompute gathering again, and the
// host loop over the ranks of DeepSpeed 0.3.13-0.5.4 (costmodel/zero3_host.hpp).
#include <doctest/doctest.h>

#include <cmath>

#include "tests/approx.hpp"

#include "core/hardware.hpp"
#include "costmodel/estimate.hpp"
#include "costmodel/memory.hpp"
#include "graph/transformer_builder.hpp"
#include "simulator/simulate.hpp"

using namespace shardplan;

namespace {
// Two layers of h = 512 (GPT style, tied embeddings, V = 1024, s = 64): per layer the QKV
// (512 x 1536 + 1536 = 787,968), output (262,656), fc1 (1,050,624) and fc2 (1,049,088) weights
// are each over DeepSpeed's 1e5-element persistence threshold, the biases and norms under it;
// the embedding table (1024 x 512 = 524,288) too. 2 x 4 + 1 = 9 gathered tensors; FSDP's units
// are the 4 blocks (embedding, two layers, head).
ModelSpec two_layers() {
  ModelSpec m;
  m.name = "zero3-two-layers";
  m.layers = 2;
  m.hidden = 512;
  m.heads = 8;
  m.kv_heads = 8;
  m.head_dim = 64;
  m.ffn_hidden = 2048;
  m.vocab = 1024;
  m.seq_len = 64;
  m.tied_embeddings = true;
  return m;
}

// The model on one DGX A100 (8 GPUs, NVLink ring: alpha 3 us a hop).
Estimator& estimator() {
  static const OpGraph g = build_transformer_graph(two_layers());
  static const ClusterSpec c = [] {
    ClusterSpec x = load_cluster("dgx-a100");
    x.set_gpu_count(8);
    return x;
  }();
  static Estimator est(g, c);
  return est;
}

struct Run {
  Estimate e;
  SimResult sim;
};

// dp = 8, ZeRO-3, one micro-batch, no overlap.
Run run(Zero3Impl impl, Recompute rc) {
  Estimator& est = estimator();
  Strategy s;
  s.dp = 8, s.global_batch = 8, s.zero = 3, s.recompute = rc, s.overlap_grad_reduce = false;
  s.zero3_impl = impl;
  Run r{est.estimate(s), {}};
  REQUIRE(r.e.valid());
  r.sim = simulate(est.stage_costs(s), SimOptions{});
  REQUIRE(r.sim.error.empty());
  return r;
}
}  // namespace

TEST_CASE("zero3_impl: DeepSpeed gathers tensor by tensor, and again for the recomputed forward") {
  const double hop = 7 * 3e-6;  // ring all-gather / reduce-scatter latency over 8 ranks: 21 us
  // Without recompute both gather twice (forward, backward) and reduce-scatter once per
  // micro-batch; DeepSpeed's 9 collectives against FSDP's 4 pay 3 x (9 - 4) x 21 us = 315 us more.
  const Run fsdp = run(Zero3Impl::fsdp, Recompute::none);
  const Run ds = run(Zero3Impl::deepspeed, Recompute::none);
  CHECK(ds.e.breakdown.dp_comm_s - fsdp.e.breakdown.dp_comm_s == testing::rel(3 * 5 * hop).epsilon(1e-6));
  // With full recompute DeepSpeed's hooks gather the layers once more (released after the
  // recomputed forward); the embedding is not recomputed. Priced by parameters: the layers' share
  // f = 2 x 3,152,384 / 6,862,848 = 0.918677 of a whole-model gather (6,862,848 = the layers, the
  // 524,288 + 32,768 embedding and position tables, the final norm's 1,024). FSDP's traffic is
  // unchanged.
  const double f = 2 * 3152384.0 / 6862848.0;
  const Run fsdp_full = run(Zero3Impl::fsdp, Recompute::full);
  const Run ds_full = run(Zero3Impl::deepspeed, Recompute::full);
  CHECK(fsdp_full.e.breakdown.dp_comm_s == testing::rel(fsdp.e.breakdown.dp_comm_s).epsilon(1e-12));
  // Bandwidth part of one gather of the 16-bit weights: the no-recompute traffic is two of them
  // and a reduce-scatter of the fp32 gradients (twice their bytes), 4 gathers' worth past latency
  // (7/8 x 2P / (300 GB/s x 0.77) = 52 us for the 6.86M parameters).
  const double one_gather = (ds.e.breakdown.dp_comm_s - 9 * hop * 3) / 4;
  CHECK(one_gather == testing::rel(52e-6).epsilon(0.01));
  CHECK(ds_full.e.breakdown.dp_comm_s - ds.e.breakdown.dp_comm_s == testing::rel(f * (9 * hop + one_gather)).epsilon(1e-6));
  // DeepSpeed 0.3.13-0.5.4: each of the (3 + f) x 9 collectives also pays 250 us + 8 x 16 us of
  // host loop = 378 us: 13.331 ms.
  const double host = (3 + f) * 9 * 378e-6;
  const Run old = run(Zero3Impl::deepspeed_2021, Recompute::full);
  CHECK(old.e.breakdown.dp_comm_s - ds_full.e.breakdown.dp_comm_s == testing::rel(host).epsilon(1e-6));
  // The simulator moves the same traffic: each pair agrees within 1%.
  for (const Run* r : {&fsdp, &ds, &fsdp_full, &ds_full, &old})
    CHECK(std::abs(r->sim.step_time_s / r->e.step_time_s - 1) < 0.01);
  CHECK(old.sim.step_time_s - ds_full.sim.step_time_s == testing::rel(host).epsilon(0.02));
}

TEST_CASE("zero3_impl: deepspeed-2021 overlaps nothing, whatever overlap_grad_reduce says") {
  // Each of its gathers first synchronizes the device, so the gathers and the reduce-scatters
  // queued beside the backward all wait for the compute: with overlap on it costs what it costs
  // with overlap off.
  Estimator& est = estimator();
  Strategy s;
  s.dp = 8, s.global_batch = 8, s.zero = 3, s.recompute = Recompute::full;
  s.zero3_impl = Zero3Impl::deepspeed_2021;
  const Estimate on = est.estimate(s);
  s.overlap_grad_reduce = false;
  const Estimate off = est.estimate(s);
  CHECK(on.step_time_s == testing::rel(off.step_time_s).epsilon(1e-12));
  // Modern DeepSpeed prefetches beside the compute: overlap helps there.
  s.zero3_impl = Zero3Impl::deepspeed;
  const Estimate ds_off = est.estimate(s);
  s.overlap_grad_reduce = true;
  CHECK(est.estimate(s).step_time_s < ds_off.step_time_s);
}

TEST_CASE("zero3_impl: anything but fsdp needs ZeRO-3 without a pipeline") {
  Estimator& est = estimator();
  Strategy s;
  s.dp = 8, s.global_batch = 8, s.zero = 2, s.zero3_impl = Zero3Impl::deepspeed;
  std::string why;
  CHECK(est.check(s, &why) == Reason::options);
  CHECK(why.find("needs ZeRO-3") != std::string::npos);
  s.zero = 3, s.dp = 4, s.pp = 2;
  CHECK(est.check(s, &why) == Reason::options);
  CHECK(why.find("pp = 1") != std::string::npos);
}

TEST_CASE("zero3_impl: what each holds gathered beside its shard") {
  // A block of 1e9 parameters whose largest linear is 2e8. FSDP: the current and the prefetched
  // block, 2e9. DeepSpeed: the module and its 5e7-element prefetch bucket, 2.5e8; DeepSpeed
  // 0.3.13-0.5.4 also PyTorch's flat staging buffer of the module, 4.5e8. Whole gradients before
  // the reduce-scatter: FSDP two blocks' 2e9 (one being reduced, the next being produced);
  // DeepSpeed the module's and its 5e8 reduce bucket.
  Strategy s;
  s.zero = 3;
  CHECK(gathered_weights_elems(s, 1e9, 2e8) == testing::rel(2e9).epsilon(1e-12));
  CHECK(full_gradient_elems(s, 1e9, 2e8) == testing::rel(2e9).epsilon(1e-12));
  s.zero3_impl = Zero3Impl::deepspeed;
  CHECK(gathered_weights_elems(s, 1e9, 2e8) == testing::rel(2.5e8).epsilon(1e-12));
  CHECK(full_gradient_elems(s, 1e9, 2e8) == testing::rel(7e8).epsilon(1e-12));
  s.zero3_impl = Zero3Impl::deepspeed_2021;
  CHECK(gathered_weights_elems(s, 1e9, 2e8) == testing::rel(4.5e8).epsilon(1e-12));
  // Never more than FSDP would hold (a block smaller than the buckets).
  CHECK(gathered_weights_elems(s, 1e7, 5e6) == testing::rel(2e7).epsilon(1e-12));
  CHECK(full_gradient_elems(s, 1e7, 5e6) == testing::rel(1e7).epsilon(1e-12));
}

TEST_CASE("zero3_impl: no DP group, no collective and no host time; MoE layers are refused") {
  // tp = 8 on the 8 GPUs: dp = 1, ZeRO-3 shards over one rank and moves nothing.
  Estimator& est = estimator();
  Strategy s;
  s.tp = 8, s.global_batch = 8, s.zero = 3, s.sp = true;
  const Estimate fsdp = est.estimate(s);
  s.zero3_impl = Zero3Impl::deepspeed_2021;
  const Estimate old = est.estimate(s);
  REQUIRE(old.valid());
  CHECK(old.breakdown.dp_comm_s == testing::rel(fsdp.breakdown.dp_comm_s).epsilon(1e-12));
  // DeepSpeed's engine.py: "MoE not supported with Stage 3".
  const OpGraph moe = build_transformer_graph([] {
    ModelSpec m = two_layers();
    m.moe = MoeSpec{};
    m.moe->experts = 4, m.moe->top_k = 2, m.moe->ffn_hidden = 512;
    return m;
  }());
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(8);
  Estimator moe_est(moe, c);
  Strategy t;
  t.dp = 8, t.global_batch = 8, t.zero = 3, t.zero3_impl = Zero3Impl::deepspeed;
  std::string why;
  CHECK(moe_est.check(t, &why) == Reason::options);
  CHECK(why.find("MoE not supported with Stage 3") != std::string::npos);
  t.zero3_impl = Zero3Impl::fsdp;
  CHECK(moe_est.check(t) == Reason::ok);
}
