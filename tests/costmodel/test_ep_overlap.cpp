// --ep-comm-overlap: one micro-batch's expert all-to-all beside another's compute (Megatron-Core's
// batch-level overlap, DeepSeek's DualPipe), against the exposed all-to-all it replaces.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "core/hardware.hpp"
#include "core/strategy.hpp"
#include "costmodel/block_cost.hpp"
#include "costmodel/collectives.hpp"
#include "costmodel/estimate.hpp"
#include "costmodel/tp_overlap.hpp"
#include "graph/model_loader.hpp"

#include "costmodel_fixtures.hpp"

using namespace shardplan;

namespace {
BlockCost moe_block(const OpGraph& g, const ClusterSpec& cl, bool overlap) {
  size_t b = 0;
  while (!g.blocks[b].is_moe) ++b;
  ShardContext c = testing::single_gpu_context(cl, g);
  c.ep = 8;
  c.ep_comm_overlap = overlap;
  c.ep_group = place_group(cl, 8, 1);
  return price_block(g, g.blocks[b], cl.gpu, c);
}
}  // namespace

TEST_CASE("ep overlap: the all-to-all hides behind the block's compute, less SM contention") {
  // Mixtral 8x7B layer on one H100 of an 8-GPU EP group, s = 4096, one sequence: each token goes to
  // top_k = 2 experts, so dispatch moves 2 x 4096 tokens x 4096 x 2 B = 67,108,864 B, and the layer
  // runs four all-to-alls (dispatch and combine, forward and backward).
  const LoadedModel m = load_model("mixtral-8x7b", 4096);
  const ClusterSpec cl = load_cluster("dgx-h100");
  const double a2a = 4 * all_to_all_s(place_group(cl, 8, 1), 67108864.0);
  const BlockCost off = moe_block(m.graph, cl, false);
  CHECK(off.ep_comm_s == testing::rel(a2a));
  // The compute it can hide behind: the block's passes without the all-to-all (tp = 1: no TP).
  const double compute = off.fwd_s + off.bwd_input_s + off.bwd_weight_s - a2a;
  REQUIRE(compute > a2a);
  const BlockCost on = moe_block(m.graph, cl, true);
  // The all-to-all kernels hold 16 of 132 SMs while they run: the compute beside them slows by
  // 16/132 of the all-to-all's time, which is all that is exposed.
  CHECK(on.ep_comm_s == testing::rel(a2a * 16.0 / 132.0));
  CHECK(on.ep_comm_s == testing::rel(beside_collective(cl.gpu, compute, a2a) - compute));
  CHECK(on.fwd_s + on.bwd_input_s + on.bwd_weight_s == testing::rel(compute + a2a * 16.0 / 132.0));
}

TEST_CASE("ep overlap: needs expert parallelism, and a second micro-batch to run beside") {
  const LoadedModel m = load_model("mixtral-8x7b", 4096);
  ClusterSpec cl = load_cluster("dgx-h100");
  cl.set_gpu_count(64);
  Estimator est(m.graph, cl);
  Strategy s = parse_strategy_string("tp=2,ep=8,sp,zero=1,mbs=1", Strategy{});
  s.global_batch = 256;
  s.dp = 32;
  s.seq_len = 4096;
  const Estimate base = est.estimate(s);
  REQUIRE(base.valid());
  Strategy ov = parse_strategy_string("ep_comm_overlap", s);
  CHECK(ov.ep_comm_overlap);
  CHECK(strategy_to_string(ov).find(",ep_comm_overlap") != std::string::npos);
  const Estimate hidden = est.estimate(ov);
  REQUIRE(hidden.valid());
  CHECK(hidden.step_time_s < base.step_time_s);
  CHECK(hidden.breakdown.ep_comm_s < base.breakdown.ep_comm_s);
  // One micro-batch per replica: nothing to overlap with, the all-to-all stays exposed.
  s.global_batch = ov.global_batch = 32;
  CHECK(est.estimate(ov).step_time_s == testing::rel(est.estimate(s).step_time_s));
  // Without expert parallelism the flag is an error, not silently ignored.
  Strategy no_ep = parse_strategy_string("tp=2,ep=1,sp,zero=1,mbs=1,ep_comm_overlap", s);
  const Estimate bad = est.estimate(no_ep);
  CHECK_FALSE(bad.valid());
  CHECK(bad.detail.find("--ep-comm-overlap needs expert parallelism") != std::string::npos);
}
