// Planner quality on the published runs (validation/*.json): the best plan the search finds for a
// row's model, GPU count and batch is predicted at least as fast as the published configuration,
// and, searching only the published configuration's schedule family (its schedule, recompute mode
// and implementation switches), the published configuration ranks in the top 10.
#include <doctest/doctest.h>

#include <algorithm>

#include "costmodel/validation.hpp"
#include "planner/search.hpp"

using namespace shardplan;

TEST_CASE("planner quality on every calibration row" * doctest::test_suite("slow")) {
  std::vector<ValidationRow> rows = load_validation_rows(std::string(SHARDPLAN_SOURCE_DIR) + "/validation");
  int checked = 0, in_top10 = 0, family_rows = 0;
  for (const ValidationRow& row : rows) {
    if (!row.step_time_s || !row.duplicate_of.empty()) continue;
    CAPTURE(row.id);
    ValidationSetup setup = validation_setup(row);
    Estimator est(setup.graph, setup.cluster);
    const Strategy& pub = row.strategy;
    Estimate published = est.estimate(pub);
    REQUIRE(published.valid());
    SearchOptions o;
    o.gpus = row.gpus;
    o.global_batch = pub.global_batch;
    o.precision = pub.precision;
    o.flash_attention = pub.flash_attention;
    o.overlap_grad_reduce = pub.overlap_grad_reduce;
    o.memory_headroom = 0;
    o.threads = 2;
    o.top_k = 10;
    // The published runs ran, so they fit: search among strategies that fit as well as it did.
    if (!published.fits) continue;
    SearchSpace all;
    all.max_micro_batch = std::max<int64_t>(16, pub.micro_batch);
    SearchResult best = search(setup.graph, setup.cluster, all, o);
    REQUIRE(!best.top.empty());
    CHECK(best.top.front().estimate.step_time_s <= published.step_time_s * (1 + 1e-9));
    checked++;
    // The schedule family: same schedule, recompute mode and switches; sizes free.
    SearchSpace family;
    family.schedule = {pub.schedule};
    family.recompute = {pub.recompute};
    family.sp = {pub.sp};
    family.zero = {pub.zero};
    family.tp_comm_overlap = {pub.tp_comm_overlap};
    family.max_micro_batch = all.max_micro_batch;
    SearchResult fam = search(setup.graph, setup.cluster, family, o);
    family_rows++;
    bool found = std::any_of(fam.top.begin(), fam.top.end(), [&](const Candidate& c) { return c.strategy == pub; });
    if (found) in_top10++;
    else MESSAGE("published configuration not in the family's top 10: " << strategy_to_string(pub));
  }
  MESSAGE("rows checked: " << checked << ", published configuration in its family's top 10: " << in_top10 << " of "
                           << family_rows);
  CHECK(checked >= 40);
}
