// The rank layout and process groups of a strategy, in Megatron-Core's default order
// ("tp-cp-ep-dp-pp": TP innermost, then CP, then DP, PP outermost):
//   rank = ((pp_i * dp + dp_i) * cp + cp_i) * tp + tp_i
// Expert layers re-split each pipeline stage's tp*cp*dp ranks as EP (innermost) x expert-DP with
// expert TP 1, as Megatron-Core's expert rank generator does with --expert-tensor-parallel-size 1.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/strategy.hpp"

namespace shardplan {

struct RankCoords {
  int64_t tp = 0, cp = 0, dp = 0, pp = 0;
  int64_t ep = 0, edp = 0;  // expert layers: position in the EP group, and which EP group
  bool operator==(const RankCoords&) const = default;
};

struct RankLayout {
  int64_t tp = 1, cp = 1, dp = 1, pp = 1, ep = 1;

  explicit RankLayout(const Strategy& s) : tp(s.tp), cp(s.cp), dp(s.dp), pp(s.pp), ep(s.ep) {}
  int64_t world() const { return tp * cp * dp * pp; }
  int64_t stage_ranks() const { return tp * cp * dp; }  // ranks of one pipeline stage
  int64_t expert_dp() const { return stage_ranks() / ep; }
  int64_t rank_of(int64_t tp_i, int64_t cp_i, int64_t dp_i, int64_t pp_i) const {
    return ((pp_i * dp + dp_i) * cp + cp_i) * tp + tp_i;
  }
  RankCoords coords(int64_t rank) const;
};

// One kind of process group: every group of that kind, each in ascending rank order (= the
// rank's index inside the group), the list ordered by first member.
struct GroupKind {
  std::string name;  // "tp", "cp", "dp", "dp_cp", "pp", "ep", "expert_dp", "embedding"
  std::vector<std::vector<int64_t>> groups;
};

// The groups a run needs. Kinds whose groups are single ranks are left out. "dp_cp" (gradient
// reduction and ZeRO sharding when cp > 1) spans dp x cp; "embedding" (first and last pipeline
// stage, which share the tied word embeddings) only when `tied_embeddings` and pp > 1.
std::vector<GroupKind> process_groups(const Strategy& s, bool tied_embeddings);

// What ZeRO shards, over which group kind and how many ways.
struct ZeroSharding {
  std::string group;  // "dp", "dp_cp" or "expert_dp"
  int64_t ways = 1;
  std::vector<std::string> sharded, replicated;  // of "optimizer_states", "gradients", "weights"
};
ZeroSharding zero_sharding(const Strategy& s, bool experts);

// The schedule's passes of one stage as text: "F0 F1 B0 ..." ("F<mb>.<chunk>" when vp > 1).
std::vector<std::string> schedule_text(const Strategy& s);

}  // namespace shardplan
