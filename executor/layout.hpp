// The rank layout: world rank <-> (dp, pp, tp) coordinates in the plan file's order
// (docs/plan-format.md, plan/plan_layout.hpp: Megatron-Core's default "tp-cp-ep-dp-pp" with cp 1):
// TP innermost, so a TP group is a run of consecutive ranks (one node), then DP, PP outermost:
//   rank = ((pp_idx * dp) + dp_idx) * tp + tp_idx
#pragma once
#include <vector>

namespace shardplan::executor {

struct RankCoords {
  int dp = 0, pp = 0, tp = 0;
  bool operator==(const RankCoords&) const = default;
};

struct RankLayout {
  int dp = 1, pp = 1, tp = 1;

  int world_size() const { return dp * pp * tp; }
  int rank_of(RankCoords c) const { return (c.pp * dp + c.dp) * tp + c.tp; }
  RankCoords coords(int rank) const { return {(rank / tp) % dp, rank / (tp * dp), rank % tp}; }
  // Members of each group containing `rank`, in ascending world rank (= group rank order).
  std::vector<int> tp_group(int rank) const;
  std::vector<int> pp_group(int rank) const;
  std::vector<int> dp_group(int rank) const;
  // First and last pipeline stage at rank's (dp, tp): the ranks that share tied embeddings.
  std::vector<int> embedding_group(int rank) const;
  std::vector<int> world_group() const;
};

}  // namespace shardplan::executor
