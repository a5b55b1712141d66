// Planner quality on the published runs (validation/*.json): the best plan the search finds for a
// row's model, GPU count and batch is predicted at least as fast as the published configuration,
// and, searching only the published configuration's schedule family, the published configuration
// ranks in the top 10.
//
// The family is what the run's framework offered and the run chose: its schedule, recompute mode,
// sequence parallelism, ZeRO stage, TP-comm overlap and context parallel size, and its
// implementation switches (flash attention, gradient-reduce overlap, asynchronous TP backward);
// the sizes tp, pp, vp, dp and the micro-batch are free (pp = 1 under a stated ZeRO-2/3, which
// only torchtitan pipelines). A field the source does not state (the
// row's "assumed" entries marked "not stated") is free in the family and ignored when matching.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "costmodel/validation.hpp"
#include "planner/search.hpp"

using namespace shardplan;

namespace {
// Rows whose published configuration the cost model ranks below 10th in its family (rank, and how
// much faster the family's best is predicted). In each the model prefers less tensor parallelism
// and a deeper pipeline than the run used (e.g. nar1-gpt-39.1b: tp 4, pp 4 predicted 14% faster
// than the published tp 8, pp 2; kor5-175b-full: tp 4, pp 16 6% faster than tp 8, pp 8), more data
// parallelism once the fp16 gradients are priced as the run reduced them (kor5-530b-full-dp8: dp 40,
// pp 7 5% faster than dp 8, pp 35), or, where the source leaves the micro-batch unstated
// (mc24-gpt-119b), a larger one on fewer stages. Whether
// the model or the published choice is right there is not settled by any measurement we have
// (issue 3): these rows are listed, not hidden, and must stay in the family within 20% of its best.
const std::set<std::string> kKnownMisses = {"kor5-175b-full", "kor5-530b-full-dp8", "mc24-gpt-119b",
                                            "nar1-gpt-18.4b", "nar1-gpt-39.1b", "nar1-gpt-145.6b"};

bool stated(const ValidationRow& row, const std::string& key) {
  return std::find(row.unstated.begin(), row.unstated.end(), key) == row.unstated.end();
}

// The published configuration, up to the fields the source leaves unstated.
bool matches(const ValidationRow& row, const Strategy& a) {
  Strategy b = row.strategy, x = a;
  if (!stated(row, "micro_batch")) x.micro_batch = b.micro_batch;
  if (!stated(row, "recompute")) x.recompute = b.recompute;
  if (!stated(row, "sp")) x.sp = b.sp;
  if (!stated(row, "zero")) x.zero = b.zero;
  if (!stated(row, "cp")) x.cp = b.cp;
  if (!stated(row, "vp")) x.vp = b.vp;
  if (!stated(row, "schedule")) x.schedule = b.schedule;
  if (x.pp * x.cp * x.tp != b.pp * b.cp * b.tp) return false;
  x.dp = b.dp;
  return x == b;
}
}  // namespace

TEST_CASE("planner quality on every calibration row" * doctest::test_suite("slow")) {
  std::vector<ValidationRow> rows = load_validation_rows(std::string(SHARDPLAN_SOURCE_DIR) + "/validation");
  int checked = 0, in_top10 = 0;
  for (const ValidationRow& row : rows) {
    if (!row.step_time_s || !row.duplicate_of.empty()) continue;
    CAPTURE(row.id);
    ValidationSetup setup = validation_setup(row);
    Estimator est(setup.graph, setup.cluster);
    const Strategy& pub = row.strategy;
    Estimate published = est.estimate(pub);
    REQUIRE(published.valid());
    // The published runs ran, so they fit; the search keeps the planner's headroom where they did.
    if (!published.fits) continue;
    SearchOptions o;
    o.gpus = row.gpus;
    o.global_batch = pub.global_batch;
    o.precision = pub.precision;
    o.grad_reduce = pub.grad_reduce;
    o.flash_attention = pub.flash_attention;
    o.overlap_grad_reduce = pub.overlap_grad_reduce;
    o.async_tp_backward = pub.async_tp_backward;
    o.zero3_impl = pub.zero3_impl;
    // The planner's default headroom (10% of memory kept free), or less where the published run
    // used more of its GPUs than that leaves.
    o.memory_headroom = std::clamp(1 - published.peak_memory_bytes / setup.cluster.gpu.memory_bytes, 0.0, 0.1);
    o.threads = 2;
    o.top_k = 10;
    SearchSpace all;
    all.max_micro_batch = std::max<int64_t>(16, pub.micro_batch);
    SearchResult best = search(setup.graph, setup.cluster, all, o);
    REQUIRE(!best.top.empty());
    CHECK(best.top.front().estimate.step_time_s <= published.step_time_s * (1 + 1e-9));
    checked++;

    SearchSpace family;
    if (stated(row, "schedule")) family.schedule = {pub.schedule};
    if (stated(row, "recompute")) family.recompute = {pub.recompute};
    if (stated(row, "sp")) family.sp = {pub.sp};
    if (stated(row, "zero")) family.zero = {pub.zero};
    // ZeRO-2/3 with pipeline parallelism is torchtitan's alone (FSDP2 through
    // torch.distributed.pipelining); these rows' frameworks (DeepSpeed, Megatron) ran it without.
    if (stated(row, "zero") && pub.zero >= 2) family.pp = {1};
    if (stated(row, "cp")) family.cp = {pub.cp};
    family.ep = {pub.ep};
    family.tp_comm_overlap = {pub.tp_comm_overlap};
    family.max_micro_batch = all.max_micro_batch;
    SearchOptions wide = o;
    wide.top_k = 100000;
    SearchResult fam = search(setup.graph, setup.cluster, family, wide);
    REQUIRE(!fam.top.empty());
    auto it = std::find_if(fam.top.begin(), fam.top.end(), [&](const Candidate& c) { return matches(row, c.strategy); });
    const long rank = it == fam.top.end() ? -1 : long(it - fam.top.begin()) + 1;
    const double gap = published.step_time_s / fam.top.front().estimate.step_time_s - 1;
    MESSAGE(row.id << ": published rank " << rank << " of " << fam.top.size() << " in its family, "
                   << 100 * gap << "% slower than the family's best "
                   << strategy_to_string(fam.top.front().strategy));
    CHECK(rank >= 1);
    if (kKnownMisses.count(row.id)) CHECK(gap <= 0.2);
    else CHECK((rank >= 1 && rank <= 10));
    if (rank >= 1 && rank <= 10) in_top10++;
  }
  MESSAGE("rows checked: " << checked << ", published configuration in its family's top 10: " << in_top10 << " of "
                           << checked);
  CHECK(checked >= 40);
}
