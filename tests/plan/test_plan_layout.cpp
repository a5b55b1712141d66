// Rank layout, process groups, ZeRO sharding and schedule text, checked against hand-written
// layouts in Megatron-Core's "tp-cp-ep-dp-pp" order (megatron/core/parallel_state.py
// RankGenerator).
#include <doctest/doctest.h>

#include "plan/plan_layout.hpp"

using namespace shardplan;

namespace {
Strategy strategy(int64_t dp, int64_t tp, int64_t pp, int64_t cp = 1, int64_t ep = 1) {
  Strategy s;
  s.dp = dp, s.tp = tp, s.pp = pp, s.cp = cp, s.ep = ep;
  return s;
}

const GroupKind* find(const std::vector<GroupKind>& kinds, const std::string& name) {
  for (const auto& k : kinds)
    if (k.name == name) return &k;
  return nullptr;
}
using Groups = std::vector<std::vector<int64_t>>;
}  // namespace

TEST_CASE("plan layout: TP innermost, then CP, DP, PP outermost") {
  // tp=2, cp=2, dp=2, pp=2: rank = ((pp*2 + dp)*2 + cp)*2 + tp.
  RankLayout l(strategy(2, 2, 2, 2));
  CHECK(l.world() == 16);
  CHECK(l.rank_of(1, 0, 0, 0) == 1);
  CHECK(l.rank_of(0, 1, 0, 0) == 2);
  CHECK(l.rank_of(0, 0, 1, 0) == 4);
  CHECK(l.rank_of(0, 0, 0, 1) == 8);
  CHECK(l.coords(13) ==
        RankCoords{1, 0, 1, 1, 0, 5});  // 13 = 8 + 4 + 1; its stage-local index is 5
  for (int64_t r = 0; r < l.world(); ++r) {
    RankCoords c = l.coords(r);
    CHECK(l.rank_of(c.tp, c.cp, c.dp, c.pp) == r);
  }
}

TEST_CASE("plan layout: groups of a 16-rank layout") {
  auto kinds = process_groups(strategy(2, 2, 2, 2), true);
  REQUIRE(find(kinds, "tp"));
  CHECK(find(kinds, "tp")->groups ==
        Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {12, 13}, {14, 15}});
  CHECK(find(kinds, "cp")->groups ==
        Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}, {8, 10}, {9, 11}, {12, 14}, {13, 15}});
  CHECK(find(kinds, "dp")->groups ==
        Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}, {8, 12}, {9, 13}, {10, 14}, {11, 15}});
  // dp x cp: the ranks of a stage with the same TP index (Megatron's data-parallel group with CP).
  CHECK(find(kinds, "dp_cp")->groups ==
        Groups{{0, 2, 4, 6}, {1, 3, 5, 7}, {8, 10, 12, 14}, {9, 11, 13, 15}});
  CHECK(find(kinds, "pp")->groups ==
        Groups{{0, 8}, {1, 9}, {2, 10}, {3, 11}, {4, 12}, {5, 13}, {6, 14}, {7, 15}});
  // First and last stage share the tied embedding (megatron/core/parallel_state.py
  // default_embedding_ranks).
  CHECK(find(kinds, "embedding")->groups == find(kinds, "pp")->groups);
  CHECK(find(kinds, "ep") == nullptr);
  // Without tied embeddings, or with one stage, no embedding group; single-rank kinds are left out.
  CHECK(find(process_groups(strategy(2, 2, 2, 2), false), "embedding") == nullptr);
  auto flat = process_groups(strategy(8, 1, 1), true);
  REQUIRE(flat.size() == 1);
  CHECK(flat[0].name == "dp");
  CHECK(flat[0].groups == Groups{{0, 1, 2, 3, 4, 5, 6, 7}});
}

TEST_CASE("plan layout: pipeline groups of four stages join first and last for the embedding") {
  auto kinds = process_groups(strategy(1, 2, 4), true);
  CHECK(find(kinds, "pp")->groups == Groups{{0, 2, 4, 6}, {1, 3, 5, 7}});
  CHECK(find(kinds, "embedding")->groups == Groups{{0, 6}, {1, 7}});
}

TEST_CASE("plan layout: expert groups re-split each stage, EP innermost, expert TP 1") {
  // tp=2, dp=4, pp=2, ep=4: each stage's 8 ranks form 2 EP groups of 4 consecutive ranks and
  // 4 expert-DP groups of 2 (Megatron-Core's expert rank generator with expert TP 1).
  Strategy s = strategy(4, 2, 2, 1, 4);
  auto kinds = process_groups(s, false);
  CHECK(find(kinds, "ep")->groups ==
        Groups{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12, 13, 14, 15}});
  CHECK(find(kinds, "expert_dp")->groups ==
        Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}, {8, 12}, {9, 13}, {10, 14}, {11, 15}});
  CHECK(RankLayout(s).coords(14) == RankCoords{0, 0, 3, 1, 2, 1});
}

TEST_CASE("plan layout: ZeRO shards over dp, dp x cp, or expert-DP") {
  Strategy s = strategy(8, 2, 2);
  s.zero = 1;
  ZeroSharding z = zero_sharding(s, false);
  CHECK(z.group == "dp");
  CHECK(z.ways == 8);
  CHECK(z.sharded == std::vector<std::string>{"optimizer_states"});
  CHECK(z.replicated == std::vector<std::string>{"gradients", "weights"});
  s.zero = 3;
  s.cp = 2;
  z = zero_sharding(s, false);
  CHECK(z.group == "dp_cp");
  CHECK(z.ways == 16);
  CHECK(z.sharded == std::vector<std::string>{"optimizer_states", "gradients", "weights"});
  s.ep = 4;
  z = zero_sharding(s, true);
  CHECK(z.group == "expert_dp");
  CHECK(z.ways == 8);  // 2 * 2 * 8 stage ranks / ep 4
  s = strategy(1, 8, 1);
  s.zero = 2;
  CHECK(zero_sharding(s, false).sharded.empty());  // one replica: nothing to shard over
}

TEST_CASE("plan layout: the schedule as text, one line per stage") {
  Strategy s = strategy(1, 1, 4);
  s.global_batch = 6;
  s.micro_batch = 1;
  // 1F1B, pp = 4 (Narayanan et al. SC'21 Fig. 4): stage s warms up with pp - s - 1 forwards.
  auto t = schedule_text(s);
  REQUIRE(t.size() == 4);
  CHECK(t[0] == "F0 F1 F2 F3 B0 F4 B1 F5 B2 B3 B4 B5");
  CHECK(t[3] == "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5");
  s.pp = 2, s.vp = 2, s.global_batch = 4, s.schedule = Schedule::interleaved;
  CHECK(schedule_text(s)[1] ==
        "F0.0 F1.0 F0.1 B0.1 F1.1 B1.1 F2.0 B0.0 F3.0 B1.0 F2.1 B2.1 F3.1 B3.1 B2.0 B3.0");
}
