// Rank coordinates, process groups, ZeRO sharding and the schedule text of a strategy.
#include "plan/plan_layout.hpp"

#include <functional>

#include "simulator/schedule.hpp"

namespace shardplan {

RankCoords RankLayout::coords(int64_t rank) const {
  RankCoords c;
  c.tp = rank % tp;
  c.cp = (rank / tp) % cp;
  c.dp = (rank / (tp * cp)) % dp;
  c.pp = rank / stage_ranks();
  const int64_t local = rank % stage_ranks();
  c.ep = local % ep;
  c.edp = local / ep;
  return c;
}

namespace {
// Groups of ranks that agree on everything but one axis: `first` says whether a rank starts a
// group, `members` lists the group it starts. Walking ranks in order sorts groups by first member.
std::vector<std::vector<int64_t>> groups_of(
    const RankLayout& l, const std::function<bool(int64_t)>& first,
    const std::function<std::vector<int64_t>(int64_t)>& members) {
  std::vector<std::vector<int64_t>> out;
  for (int64_t r = 0; r < l.world(); ++r)
    if (first(r)) out.push_back(members(r));
  return out;
}

// The group along an axis of `size` ranks spaced `stride` apart, starting at `r`.
std::vector<int64_t> strided(int64_t r, int64_t size, int64_t stride) {
  std::vector<int64_t> g(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) g[static_cast<size_t>(i)] = r + i * stride;
  return g;
}
}  // namespace

std::vector<GroupKind> process_groups(const Strategy& s, bool tied_embeddings) {
  const RankLayout l(s);
  std::vector<GroupKind> out;
  auto add = [&](const char* name, int64_t size, int64_t stride,
                 const std::function<bool(const RankCoords&)>& first) {
    if (size <= 1) return;
    out.push_back({name, groups_of(
                             l, [&](int64_t r) { return first(l.coords(r)); },
                             [&](int64_t r) { return strided(r, size, stride); })});
  };
  add("tp", l.tp, 1, [](const RankCoords& c) { return c.tp == 0; });
  add("cp", l.cp, l.tp, [](const RankCoords& c) { return c.cp == 0; });
  add("dp", l.dp, l.tp * l.cp, [](const RankCoords& c) { return c.dp == 0; });
  if (l.cp > 1) {
    // dp x cp: the ranks of one stage that share a TP index (CP ranks hold the same weights).
    out.push_back({"dp_cp", groups_of(
                                l, [&](int64_t r) { return r % l.stage_ranks() < l.tp; },
                                [&](int64_t r) { return strided(r, l.cp * l.dp, l.tp); })});
  }
  add("pp", l.pp, l.stage_ranks(), [](const RankCoords& c) { return c.pp == 0; });
  add("ep", l.ep, 1, [](const RankCoords& c) { return c.ep == 0; });
  if (l.ep > 1)
    add("expert_dp", l.expert_dp(), l.ep, [](const RankCoords& c) { return c.edp == 0; });
  if (tied_embeddings && l.pp > 1) {
    out.push_back(
        {"embedding", groups_of(
                          l, [&](int64_t r) { return r < l.stage_ranks(); },
                          [&](int64_t r) {
                            return std::vector<int64_t>{r, r + (l.pp - 1) * l.stage_ranks()};
                          })});
  }
  return out;
}

ZeroSharding zero_sharding(const Strategy& s, bool experts) {
  const RankLayout l(s);
  ZeroSharding z;
  if (experts) {
    z.group = "expert_dp";
    z.ways = l.expert_dp();
  } else {
    z.group = l.cp > 1 ? "dp_cp" : "dp";
    z.ways = l.dp * l.cp;
  }
  // ZeRO-1 shards optimizer states, ZeRO-2 also gradients, ZeRO-3 (FSDP) also weights.
  const char* states[] = {"optimizer_states", "gradients", "weights"};
  for (int i = 0; i < 3; ++i)
    (s.zero > i && z.ways > 1 ? z.sharded : z.replicated).push_back(states[i]);
  return z;
}

std::vector<std::string> schedule_text(const Strategy& s) {
  std::vector<std::string> out;
  for (const auto& passes : make_schedule(s.schedule, s.pp, s.vp, s.micro_batches())) {
    std::string line;
    line.reserve(passes.size() * 6);
    for (const Pass& p : passes) {
      if (!line.empty()) line += ' ';
      line += pass_kind_name(p.kind);
      line += std::to_string(p.micro_batch);
      if (s.vp > 1) line += '.', line += std::to_string(p.chunk);
    }
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace shardplan
