// The planner: enumeration counts by hand, deterministic results across thread counts, rejection
// reasons, and a feasible plan for every zoo model on a matching cluster.
#include <doctest/doctest.h>

#include "core/hardware.hpp"
#include "graph/model_loader.hpp"
#include "planner/explain.hpp"
#include "planner/search.hpp"

using namespace shardplan;

namespace {
std::string zoo(const std::string& name) { return std::string(SHARDPLAN_SOURCE_DIR) + "/models/" + name + ".json"; }
}  // namespace

TEST_CASE("enumeration of a small fixed space, counted by hand") {
  // tiny-dense: 2 layers, 4 heads. 4 GPUs, batch 8, tp in {1,2}, pp = 1, cp = 1, zero {0,1},
  // recompute {none}, schedule 1f1b. tp=1: dp=4, per-replica batch 2 -> mbs {1,2}; sp off only:
  // 2 mbs x 2 zero = 4. tp=2: dp=2, per-replica 4 -> mbs {1,2,4}; sp off (1) or on with
  // tp_comm_overlap off/on (2) = 3 switch settings: 3 x 3 x 2 = 18. Total 22.
  LoadedModel m = load_model(zoo("tiny-dense"));
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(4);
  SearchSpace sp;
  sp.tp = {1, 2};
  sp.pp = {1};
  sp.cp = {1};
  sp.zero = {0, 1};
  sp.recompute = {Recompute::none};
  sp.schedule = {Schedule::one_f_one_b};
  SearchOptions o;
  o.gpus = 4;
  o.global_batch = 8;
  CHECK(enumerate_space(m.graph, c, sp, o).size() == 22);
  SearchResult r = search(m.graph, c, sp, o);
  CHECK(r.considered == 22);
  // tp_comm_overlap needs sp, which the enumerator only pairs correctly; all 22 are valid here.
  CHECK(r.feasible == 22);
}

TEST_CASE("the search gives the same plans for 1 and 2 threads") {
  LoadedModel m = load_model(zoo("gpt-1.7b"));
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(64);
  SearchOptions o;
  o.gpus = 64;
  o.global_batch = 512;
  o.top_k = 20;
  o.threads = 1;
  SearchResult a = search(m.graph, c, SearchSpace{}, o);
  o.threads = 2;
  SearchResult b = search(m.graph, c, SearchSpace{}, o);
  REQUIRE(a.top.size() == b.top.size());
  for (size_t i = 0; i < a.top.size(); ++i) {
    CHECK(a.top[i].strategy == b.top[i].strategy);
    CHECK(a.top[i].estimate.step_time_s == b.top[i].estimate.step_time_s);
  }
  CHECK(a.considered == b.considered);
  CHECK(a.rejected == b.rejected);
  CHECK(a.pareto == b.pareto);
  // Ranked best first with the explicit total order.
  for (size_t i = 1; i < a.top.size(); ++i) CHECK_FALSE(candidate_less(a.top[i], a.top[i - 1]));
}

TEST_CASE("the search keeps the Pareto front's strategies on request, the same for any thread count") {
  LoadedModel m = load_model(zoo("gpt-1.7b"));
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(64);
  SearchOptions o;
  o.gpus = 64;
  o.global_batch = 512;
  o.threads = 1;
  CHECK(search(m.graph, c, SearchSpace{}, o).pareto_front.empty());  // off by default
  o.keep_pareto_strategies = true;
  SearchResult a = search(m.graph, c, SearchSpace{}, o);
  o.threads = 2;
  SearchResult b = search(m.graph, c, SearchSpace{}, o);
  REQUIRE(a.pareto_front.size() == a.pareto.size());
  REQUIRE(b.pareto_front.size() == a.pareto_front.size());
  for (size_t i = 0; i < a.pareto_front.size(); ++i) {
    const Candidate& f = a.pareto_front[i];
    CHECK(f.estimate.peak_memory_bytes == a.pareto[i].first);
    CHECK(f.estimate.step_time_s == a.pareto[i].second);
    CHECK(f.score == f.estimate.step_time_s);
    CHECK(f.strategy == b.pareto_front[i].strategy);
  }
}

TEST_CASE("rejections are counted by reason, and nothing-fits gives advice") {
  LoadedModel m = load_model(zoo("gpt3-175b"));
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(8);
  SearchOptions o;
  o.gpus = 8;
  o.global_batch = 8;
  SearchResult r = search(m.graph, c, SearchSpace{}, o);
  // 175B parameters x 18 bytes = 3.1 TB of model states cannot fit on 8 x 80 GB without ZeRO-3
  // over more GPUs: nothing fits, and the advice names more GPUs.
  CHECK(r.top.empty());
  CHECK(r.rejected[static_cast<size_t>(Reason::out_of_memory)] > 0);
  auto advice = suggest_when_nothing_fits(r, c, o);
  REQUIRE(advice.size() >= 2);
  bool names_gpus = false;
  for (const auto& line : advice) names_gpus = names_gpus || line.find("GPUs") != std::string::npos;
  CHECK(names_gpus);
}

TEST_CASE("nothing-fits advice: ZeRO-3 is suggested only when the closest miss is not fully sharded") {
  // A hand-made closest miss on 8 A100 80 GB: 100 GiB of model states on its one stage.
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(8);
  SearchOptions o;
  o.gpus = 8;
  o.global_batch = 8;
  SearchResult r;
  r.considered = 1;
  r.has_closest_oom = true;
  Estimate& e = r.closest_oom.estimate;
  e.stages.resize(1);
  e.stages[0].optimizer_bytes = 100.0 * 1024 * 1024 * 1024;
  e.peak_memory_bytes = e.stages[0].optimizer_bytes;
  auto says = [&](const std::string& what) {
    for (const auto& line : suggest_when_nothing_fits(r, c, o))
      if (line.find(what) != std::string::npos) return true;
    return false;
  };
  r.closest_oom.strategy.dp = 8, r.closest_oom.strategy.zero = 1;
  CHECK(says("use ZeRO-3 (--zero 3)"));
  r.closest_oom.strategy.zero = 3;  // already fully sharded: only more GPUs help
  CHECK_FALSE(says("use ZeRO-3"));
  CHECK(says("even fully sharded (ZeRO-3)"));
  r.closest_oom.strategy.pp = 2;  // ZeRO-3 under PP holds ZeRO-1's states: not fully sharded
  CHECK(says("ZeRO-3 shards them only without a pipeline (--zero 3 --pp 1)"));
}

TEST_CASE("every zoo model gets a feasible plan on a matching cluster") {
  struct Case {
    const char* model;
    const char* cluster;
    int64_t gpus, batch, seq;
  };
  const Case cases[] = {{"tiny-dense", "dgx-a100", 8, 16, 0},     {"tiny-moe", "dgx-a100", 8, 16, 0},
                        {"llama3-8b", "dgx-h100", 64, 256, 0},     {"llama2-70b", "dgx-h100", 256, 512, 4096},
                        {"mixtral-8x7b", "dgx-h100", 64, 256, 4096}, {"gpt3-175b", "dgx-a100", 1024, 1536, 0},
                        {"deepseek-v3", "dgx-h100", 1024, 2048, 4096}, {"qwen3-30b-a3b", "dgx-h100", 64, 256, 0}};
  for (const auto& k : cases) {
    CAPTURE(k.model);
    LoadedModel m = load_model(zoo(k.model), k.seq);
    ClusterSpec c = load_cluster(k.cluster);
    c.set_gpu_count(k.gpus);
    SearchSpace sp;
    sp.micro_batch = {1, 2};
    sp.zero = {1, 3};
    SearchOptions o;
    o.gpus = k.gpus;
    o.global_batch = k.batch;
    o.threads = 2;
    SearchResult r = search(m.graph, c, sp, o);
    CHECK(!r.top.empty());
    if (!r.top.empty()) CHECK(r.top.front().estimate.fits);
  }
}

TEST_CASE("explain: the terms that differ, largest first, and the peak memory") {
  Candidate a, b;
  a.estimate.step_time_s = 10.0, b.estimate.step_time_s = 10.5;
  a.estimate.breakdown.compute_s = 8.0, b.estimate.breakdown.compute_s = 7.9;  // b computes less
  a.estimate.breakdown.tp_comm_s = 0.4, b.estimate.breakdown.tp_comm_s = 1.0;
  const double gib = 1024.0 * 1024 * 1024;
  a.estimate.peak_memory_bytes = 60 * gib, b.estimate.peak_memory_bytes = 60.01 * gib;
  std::vector<std::string> why = explain_difference(a, b);
  REQUIRE(why.size() == 4);
  CHECK(why[0] == "the best plan is 0.500 s faster per step than the runner-up:");
  CHECK(why[1] == "  TP communication shorter by 0.600 s");
  CHECK(why[2] == "  compute longer by 0.100 s");
  CHECK(why[3] == "  the same peak memory (60.0 GiB)");  // 0.01 GiB apart: below what is printed
  b.estimate.peak_memory_bytes = 62 * gib;
  CHECK(explain_difference(a, b).back() == "  peak memory lower by 2.0 GiB");
  b.estimate.peak_memory_bytes = 58 * gib;
  CHECK(explain_difference(a, b).back() == "  peak memory higher by 2.0 GiB");
  // Re-ranked by the simulator: the simulated gap leads, the estimate's is said beside it.
  a.simulated_step_s = 10.2, b.simulated_step_s = 10.0 + 0.4;
  a.estimate.step_time_s = 10.6;
  CHECK(explain_difference(a, b)[0] ==
        "the best plan is 0.200 s faster per step than the runner-up in the simulator (0.100 s slower "
        "by the estimate, whose terms differ by):");
}
