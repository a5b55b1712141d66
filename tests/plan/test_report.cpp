// The HTML report rendered from a real search of a small problem (the way `shardplan report` builds
// it): every memory term of the chosen plan is drawn, so each stage's bar adds up to its total.
#include <doctest/doctest.h>

#include "tests/approx.hpp"
#include <fmt/format.h>

#include "core/hardware.hpp"
#include "graph/model_loader.hpp"
#include "plan/report.hpp"
#include "planner/search.hpp"
#include "simulator/simulate.hpp"

using namespace shardplan;

namespace {
// The GiB figure a bar segment's tooltip shows: "stage 0: working 1.23 GiB".
std::string segment(size_t stage, const char* kind, double bytes) {
  return fmt::format("stage {}: {} {:.2f} GiB", stage, kind, bytes / (1024.0 * 1024 * 1024));
}
}  // namespace

TEST_CASE("report: memory bars stack every term of the stage total, working set included") {
  LoadedModel m = load_model(std::string(SHARDPLAN_SOURCE_DIR) + "/models/gpt-1.7b.json");
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(16);
  SearchSpace space;
  space.pp = {2};  // two stages, so two bars
  SearchOptions o;
  o.gpus = 16, o.global_batch = 64, o.keep_pareto_strategies = true;
  SearchResult r = search(m.graph, c, space, o);
  REQUIRE_FALSE(r.top.empty());
  ReportData d;
  d.title = "test", d.cluster = c;
  d.usable_bytes = c.gpu.memory_bytes * (1 - o.memory_headroom);
  d.ranked = r.top, d.front = r.pareto_front, d.colour_by = most_varied_field(d.front);
  d.chosen = r.top.front();
  Estimator est(m.graph, c, EstimatorOptions{});
  SimOptions sim;
  sim.dp = d.chosen.strategy.dp, sim.record_trace = true;
  d.sim = simulate(est.stage_costs(d.chosen.strategy), sim);
  const std::string html = render_report_html(d);
  const auto& stages = d.chosen.estimate.stages;
  REQUIRE(stages.size() == 2);
  for (size_t i = 0; i < stages.size(); ++i) {
    const StageMemory& s = stages[i];
    REQUIRE(s.working_bytes > 0);  // a recomputed layer, attention scores or logits
    CHECK(html.find(segment(i, "working", s.working_bytes)) != std::string::npos);
    const double parts = s.params_bytes + s.grads_bytes + s.optimizer_bytes +
                         s.activations_bytes + s.working_bytes + s.buffers_bytes + s.runtime_bytes;
    CHECK(parts == testing::rel(s.total_bytes));
  }
  CHECK(html.find(">working</text>") != std::string::npos);  // in the legend
}
