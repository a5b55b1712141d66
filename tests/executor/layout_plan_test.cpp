// The executor's rank layout and process groups against a plan file's (docs/plan-format.md): the
// ranks `shardplan run plan.json` puts in each TP, DP, PP and embedding group are exactly the
// groups the file lists, and every rank has the file's coordinates.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "executor/layout.hpp"
#include "tests/plan/plan_fixtures.hpp"

using namespace shardplan;
using executor::RankCoords;

namespace {

// The executor's group of `kind` containing `rank`.
std::vector<int> executor_group(const executor::RankLayout& l, const std::string& kind, int rank) {
  if (kind == "tp") return l.tp_group(rank);
  if (kind == "dp") return l.dp_group(rank);
  if (kind == "pp") return l.pp_group(rank);
  if (kind == "embedding") return l.embedding_group(rank);
  FAIL("a plan group kind the executor does not form: " << kind);
  return {};
}

void check_plan_against_executor(const std::string& model, int64_t tp, int64_t pp, int64_t dp) {
  Strategy s;
  s.tp = tp;
  s.pp = pp;
  s.global_batch = 8 * dp;
  const int64_t gpus = tp * pp * dp;
  const Plan plan = shardplan_test::fixed_plan(model, "dgx-a100", gpus, s);
  const bool tied = plan.model.spec && plan.model.spec->tied_embeddings;
  const nlohmann::json j = nlohmann::json::parse(plan_to_text(plan));
  const executor::RankLayout l{int(dp), int(pp), int(tp)};
  REQUIRE(l.world_size() == j.at("gpus").get<int>());
  const nlohmann::json& at = j.at("layout").at("coordinates");
  for (int r = 0; r < l.world_size(); ++r) {
    const RankCoords c = l.coords(r);
    CHECK(c.tp == at.at("tp").at(r).get<int>());
    CHECK(c.dp == at.at("dp").at(r).get<int>());
    CHECK(c.pp == at.at("pp").at(r).get<int>());
    CHECK(at.at("cp").at(r).get<int>() == 0);
  }
  // Every group the file lists is the executor's group of each of its members; a kind the file
  // leaves out (single-rank groups) is a single rank in the executor too.
  for (const std::string kind : {"tp", "dp", "pp", "embedding"}) {
    CAPTURE(kind);
    if (!j.at("groups").contains(kind)) {
      for (int r = 0; r < l.world_size(); ++r) {
        if (kind == "embedding" && tied && pp > 1) FAIL("embedding groups missing from the plan");
        if (kind != "embedding") CHECK(executor_group(l, kind, r) == std::vector<int>{r});
      }
      continue;
    }
    int covered = 0;
    for (const nlohmann::json& g : j.at("groups").at(kind)) {
      const std::vector<int> members = g.get<std::vector<int>>();
      for (int r : members) CHECK(executor_group(l, kind, r) == members);
      covered += static_cast<int>(members.size());
    }
    // Every rank is in one group of each kind; embedding groups hold the first and last stage.
    CHECK(covered == (kind == "embedding" ? 2 * int(tp * dp) : l.world_size()));
  }
}

}  // namespace

TEST_CASE("executor layout: a plan file's coordinates and process groups are the executor's") {
  for (int64_t tp : {1, 2, 4})
    for (int64_t pp : {1, 2, 4})
      for (int64_t dp : {1, 2, 4}) {
        CAPTURE(tp);
        CAPTURE(pp);
        CAPTURE(dp);
        check_plan_against_executor("gpt-1.7b", tp, pp, dp);  // tied embeddings
      }
  check_plan_against_executor("gpt-1.7b", 2, 1, 3);
  check_plan_against_executor("tiny-dense", 2, 2, 2);
}
