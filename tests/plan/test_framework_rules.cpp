// The framework rules: one set behind the emitters' errors and the planner's --framework filter,
// so the fast answer (framework_runs) and the sentences (framework_gaps) must agree everywhere.
#include <doctest/doctest.h>

#include <algorithm>

#include "core/hardware.hpp"
#include "graph/model_loader.hpp"
#include "plan/framework_rules.hpp"
#include "planner/search.hpp"

using namespace shardplan;

TEST_CASE("framework rules: framework_runs agrees with framework_gaps over a whole search space") {
  const LoadedModel m = load_model(std::string(SHARDPLAN_SOURCE_DIR) + "/models/mixtral-8x7b.json");
  ClusterSpec cluster = load_cluster("dgx-h100");
  cluster.set_gpu_count(64);
  SearchOptions o;
  o.gpus = 64;
  o.global_batch = 256;
  SearchSpace space;
  space.recompute = {Recompute::none, Recompute::selective, Recompute::full, Recompute::op};
  std::vector<Strategy> all = enumerate_space(m.graph, cluster, space, o);
  REQUIRE(all.size() > 1000);
  for (Framework f : {Framework::megatron, Framework::deepspeed, Framework::torchtitan}) {
    CAPTURE(framework_name(f));
    int64_t runs = 0, refused = 0, mismatched = 0;
    for (Strategy s : all) {
      for (Recompute r : space.recompute) {
        s.recompute = r;
        const bool ok = framework_runs(f, s, &*m.spec);
        mismatched += ok != framework_gaps(f, s, &*m.spec).empty();
        (ok ? runs : refused)++;
      }
    }
    CHECK(mismatched == 0);
    CHECK(runs > 0);
    CHECK(refused > 0);
  }
}

TEST_CASE("framework rules: the recompute modes each framework implements, and the names") {
  CHECK(framework_recompute_modes(Framework::torchtitan) ==
        std::vector<Recompute>{Recompute::none, Recompute::op, Recompute::full});
  CHECK(framework_recompute_modes(Framework::megatron) ==
        std::vector<Recompute>{Recompute::none, Recompute::selective, Recompute::full});
  Framework f{};
  CHECK(parse_framework("torchtitan", f));
  CHECK(f == Framework::torchtitan);
  CHECK_FALSE(parse_framework("jax", f));
  // A strategy each refuses, with the sentence naming the gap and how to re-plan.
  Strategy s;
  s.pp = 2;
  s.zero = 3;
  s.recompute = Recompute::op;
  s.seq_len = 4096;
  const auto meg = framework_gaps(Framework::megatron, s, nullptr);
  REQUIRE(meg.size() == 2);
  CHECK(meg[0].find("no ZeRO-2/3 with pipeline parallelism") == 0);
  CHECK(meg[1].find("no op-level selective checkpointing") == 0);
  CHECK(framework_gaps(Framework::torchtitan, s, nullptr).empty());
  s.tp = 3;
  s.seq_len = 4097;  // not a multiple of 2*tp*cp = 6: the formatted sentence
  const auto tt = framework_gaps(Framework::torchtitan, s, nullptr);
  REQUIRE(tt.size() == 1);
  CHECK(tt[0].find("multiple of 2*tp*cp = 6") != std::string::npos);
}

TEST_CASE("framework rules: the planner's filter prices what the framework does") {
  Strategy s;
  s.dp = 4, s.pp = 2, s.global_batch = 64, s.seq_len = 4096, s.zero = 1;
  s.overlap_grad_reduce = true;
  // DeepSpeed's pipeline engine reduces gradients after the last backward.
  Strategy ds = s;
  CHECK(framework_plans(Framework::deepspeed, ds, nullptr));
  CHECK_FALSE(ds.overlap_grad_reduce);
  CHECK_FALSE(ds.async_tp_backward);  // Megatron-DeepSpeed: synchronous under --deepspeed
  // Without a pipeline too when bf16 with ZeRO-1 runs BF16_Optimizer (reduced after the backward);
  // fp16 ZeRO-1 overlaps (overlap_comm).
  Strategy bf = s;
  bf.pp = 1, bf.dp = 8, bf.precision = DType::bf16;
  CHECK(framework_plans(Framework::deepspeed, bf, nullptr));
  CHECK_FALSE(bf.overlap_grad_reduce);
  Strategy fp = bf;
  fp.overlap_grad_reduce = true, fp.precision = DType::fp16, fp.grad_reduce = DType::fp16;
  CHECK(framework_plans(Framework::deepspeed, fp, nullptr));
  CHECK(fp.overlap_grad_reduce);
  // Its flash-attention path checkpoints no core attention: selective is left to its none twin.
  bf.recompute = Recompute::selective;
  CHECK_FALSE(framework_plans(Framework::deepspeed, bf, nullptr));
  bf.flash_attention = false;
  CHECK(framework_plans(Framework::deepspeed, bf, nullptr));
  Strategy meg = s;
  CHECK(framework_plans(Framework::megatron, meg, nullptr));
  CHECK(meg.overlap_grad_reduce);
  CHECK(meg.async_tp_backward);
  // torchtitan: tp > 1 only with sp, selective only as op, ZeRO-2 with accumulation as ZeRO-3.
  Strategy tt = s;
  tt.pp = 1, tt.zero = 3, tt.tp = 2, tt.flash_attention = false;
  CHECK_FALSE(framework_plans(Framework::torchtitan, tt, nullptr));  // tp = 2 without sp
  tt.sp = true;
  CHECK(framework_plans(Framework::torchtitan, tt, nullptr));
  CHECK(tt.flash_attention);
  tt.recompute = Recompute::selective;
  CHECK_FALSE(framework_plans(Framework::torchtitan, tt, nullptr));
  tt.recompute = Recompute::op, tt.zero = 2;  // 64 / (4 * 1) = 16 micro-batches: re-gathers
  CHECK_FALSE(framework_plans(Framework::torchtitan, tt, nullptr));
  tt.micro_batch = 16;
  CHECK(framework_plans(Framework::torchtitan, tt, nullptr));
}

TEST_CASE("framework_partition_runs: DeepSpeed takes even layer cuts only, the others any") {
  // 34 blocks: the embedding, 32 layers, the head; 4 chunks.
  const std::vector<int64_t> even = {0, 9, 17, 25, 34}, uneven = {0, 9, 18, 27, 34};
  CHECK(framework_partition_runs(Framework::deepspeed, even, 34));
  CHECK_FALSE(framework_partition_runs(Framework::deepspeed, uneven, 34));  // 8, 9, 9, 6 layers
  CHECK(framework_partition_runs(Framework::megatron, uneven, 34));
  CHECK(framework_partition_runs(Framework::torchtitan, uneven, 34));
  CHECK(framework_partition_runs(Framework::deepspeed, {0, 34}, 34));  // no pipeline
}

TEST_CASE("framework rules: DeepSpeed's gradients are 16-bit except bf16 with ZeRO-1") {
  // runtime/engine.py _do_optimizer_sanity_check: bf16 model + fp32 grad_accum_dtype is
  // BF16_Optimizer with ZeRO-1 only; ZeRO-2/3 and DDP keep the gradients in the model's type.
  Strategy s;
  s.dp = 8, s.global_batch = 64, s.seq_len = 4096, s.zero = 1;
  CHECK(framework_gaps(Framework::deepspeed, s, nullptr).empty());  // bf16, ZeRO-1, fp32 grads
  s.zero = 3, s.zero3_impl = Zero3Impl::deepspeed;
  const auto gaps = framework_gaps(Framework::deepspeed, s, nullptr);
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0].find("re-plan with --grad-reduce-dtype bf16") != std::string::npos);
  // The planner prices what DeepSpeed runs: bf16 gradients there.
  CHECK(framework_plans(Framework::deepspeed, s, nullptr));
  CHECK(s.grad_reduce == DType::bf16);
  Strategy h;
  h.dp = 8, h.global_batch = 64, h.seq_len = 4096, h.zero = 1, h.precision = DType::fp16;
  CHECK(framework_plans(Framework::deepspeed, h, nullptr));
  CHECK(h.grad_reduce == DType::fp16);
  // Megatron runs either; its plan keeps the choice.
  Strategy m = s;
  m.grad_reduce = DType::fp32, m.zero3_impl = Zero3Impl::fsdp;
  CHECK(framework_gaps(Framework::megatron, m, nullptr).empty());
}

TEST_CASE("framework rules: ZeRO-3 is DeepSpeed's own there, FSDP's in Megatron and torchtitan") {
  // DeepSpeed's stage 3 gathers linear by linear (zero3_impl deepspeed); Megatron-FSDP and FSDP2
  // gather a layer at a time (fsdp). The planner prices DeepSpeed's as it runs.
  Strategy s;
  s.dp = 8, s.global_batch = 64, s.seq_len = 4096, s.zero = 3, s.grad_reduce = DType::bf16;
  const auto gaps = framework_gaps(Framework::deepspeed, s, nullptr);
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0].find("re-plan with --zero3-impl deepspeed") != std::string::npos);
  CHECK(framework_plans(Framework::deepspeed, s, nullptr));
  CHECK(s.zero3_impl == Zero3Impl::deepspeed);
  s.grad_reduce = DType::fp32;  // as torchtitan reduces
  for (Framework f : {Framework::megatron, Framework::torchtitan}) {
    const auto other = framework_gaps(f, s, nullptr);
    REQUIRE(other.size() == 1);
    CHECK(other[0].find("re-plan with --zero3-impl fsdp") != std::string::npos);
  }
}

TEST_CASE("framework rules: Megatron runs expert parallelism in bf16, not fp16") {
  // megatron/training/arguments.py: "Expert parallelism is not supported with fp16 training."
  const LoadedModel m = load_model(std::string(SHARDPLAN_SOURCE_DIR) + "/models/mixtral-8x7b.json");
  Strategy s;
  s.dp = 8, s.ep = 8, s.global_batch = 64, s.precision = DType::fp16, s.grad_reduce = DType::fp16;
  const auto gaps = framework_gaps(Framework::megatron, s, &*m.spec);
  CHECK(std::any_of(gaps.begin(), gaps.end(),
                    [](const std::string& g) { return g.find("no expert parallelism in fp16") != std::string::npos; }));
  s.precision = DType::bf16, s.grad_reduce = DType::fp32;
  CHECK(framework_runs(Framework::megatron, s, &*m.spec));
}
