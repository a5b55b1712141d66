// Process groups of the rank layout (see layout.hpp for the rank formula).
#include "executor/layout.hpp"

namespace shardplan::executor {

std::vector<int> RankLayout::tp_group(int rank) const {
  RankCoords c = coords(rank);
  std::vector<int> g;
  for (c.tp = 0; c.tp < tp; ++c.tp) g.push_back(rank_of(c));
  return g;
}

std::vector<int> RankLayout::pp_group(int rank) const {
  RankCoords c = coords(rank);
  std::vector<int> g;
  for (c.pp = 0; c.pp < pp; ++c.pp) g.push_back(rank_of(c));
  return g;
}

std::vector<int> RankLayout::dp_group(int rank) const {
  RankCoords c = coords(rank);
  std::vector<int> g;
  for (c.dp = 0; c.dp < dp; ++c.dp) g.push_back(rank_of(c));
  return g;
}

std::vector<int> RankLayout::embedding_group(int rank) const {
  RankCoords c = coords(rank);
  c.pp = 0;
  std::vector<int> g{rank_of(c)};
  c.pp = pp - 1;
  if (pp > 1) g.push_back(rank_of(c));
  return g;
}

std::vector<int> RankLayout::world_group() const {
  std::vector<int> g;
  for (int r = 0; r < world_size(); ++r) g.push_back(r);
  return g;
}

}  // namespace shardplan::executor
