// Predicted against measured memory: for a grid of plans on tiny decoders, the executor's peak
// bytes per rank and category must match what the cost model (estimate) predicts for the same
// model and strategy, in fp32 on a CPU profile without runtime allowance or fragmentation.
// The accounting is deterministic on both sides, so this is an exact test of the memory model.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "costmodel/estimate.hpp"
#include "executor/layout.hpp"
#include "executor/run.hpp"
#include "graph/transformer_builder.hpp"
#include "simulator/simulate.hpp"
#include "tiny_model.hpp"

using namespace shardplan;
using namespace shardplan::executor;

namespace {

// Within 5% per category (weights, gradients, optimizer states, activations); see the report
// table for the ratios actually reached.
constexpr double kTolerance = 0.05;

// A CPU "GPU": what the memory model needs is fp32 math and no runtime allowance, so the
// prediction is model states + activations + buffers exactly.
ClusterSpec cpu_cluster(int64_t ranks) {
  ClusterSpec c;
  c.name = "cpu-test";
  c.gpu.name = "cpu-test";
  c.gpu.memory_bytes = 1e12;
  c.gpu.memory_bandwidth_GBps = 10;
  c.gpu.sms = 2;
  c.gpu.peak_tflops[static_cast<int>(DType::fp32)] = 0.1;
  c.gpu.runtime_reserved_bytes = 0;
  c.gpu.allocator_fragmentation = 0;
  c.gpus_per_node = ranks;
  c.network = {NetworkLevel{"threads", 0, 10, 1, 1, "test"}};
  return c;
}

// The executor's model has no biases and no dropout, like the graph's Llama lineage; these
// variants avoid the GPT lineage (layernorm + gelu), which the graph gives biases, dropout and
// learned positions (graph/transformer_builder.cpp).
ModelSpec variant(const std::string& which) {
  ModelSpec m = testing::tiny(true);  // rmsnorm, swiglu, GQA (2 kv heads), tied embeddings
  if (which == "ln-swiglu") {         // layernorm (weight + bias), MHA, untied head
    m.name = which;
    m.norm = "layernorm";
    m.kv_heads = 4;
    m.tied_embeddings = false;
  } else if (which == "rms-gelu") {   // gelu MLP (2 matrices), MHA, untied head
    m.name = which;
    m.ffn_act = "gelu";
    m.ffn_hidden = 256;
    m.kv_heads = 4;
    m.tied_embeddings = false;
  }
  return m;
}

struct Row {
  std::string model, plan;
  int rank = 0, stage = 0;
  double measured[5] = {}, predicted[5] = {};
  double simulated_activations = 0;  // simulate's peak minus its static bytes
};

// The executor computes in float32 and materialises the attention probabilities (unfused
// attention), so the prediction is made for fp32 without flash attention.
std::vector<Row> compare(const std::string& model, const std::string& plan) {
  const ModelSpec m = variant(model);
  RunOptions o = testing::options(m, plan, 1);
  o.strategy.precision = DType::fp32;
  o.strategy.flash_attention = false;
  const RunReport r = run_training(o);
  const OpGraph g = build_transformer_graph(m);
  ClusterSpec c = cpu_cluster(o.strategy.gpus());
  Estimator est(g, c, EstimatorOptions{true});
  Strategy s = o.strategy;
  s.seq_len = m.seq_len;
  // The executor overlaps nothing: ZeRO-2/3 reduce a block's gradients before the next block's.
  s.overlap_grad_reduce = false;
  const Estimate e = est.estimate(s);
  REQUIRE_MESSAGE(e.valid(), plan << ": " << e.detail);
  const SimResult sim = simulate(est.stage_costs(s), SimOptions{});
  REQUIRE_MESSAGE(sim.error.empty(), plan << ": " << sim.error);
  const RankLayout layout{int(s.dp), int(s.pp), int(s.tp)};
  std::vector<Row> rows;
  for (const RankMemory& mem : r.peak_bytes_per_rank) {
    Row row{model, plan, mem.rank, layout.coords(mem.rank).pp};
    for (int k = 0; k < 5; ++k) row.measured[k] = double(mem.peak_bytes[k]);
    const StageMemory& sm = e.stages.at(row.stage);
    row.predicted[0] = sm.params_bytes;
    row.predicted[1] = sm.grads_bytes;
    row.predicted[2] = sm.optimizer_bytes;
    row.predicted[3] = sm.activations_bytes;
    row.predicted[4] = sm.working_bytes + sm.buffers_bytes;
    row.simulated_activations = sim.peak_memory_bytes.at(row.stage) - sm.params_bytes - sm.grads_bytes -
                                sm.optimizer_bytes - sm.working_bytes - sm.buffers_bytes;
    rows.push_back(row);
  }
  return rows;
}

double ratio(double predicted, double measured) {
  return measured == 0 ? (predicted == 0 ? 1 : INFINITY) : predicted / measured;
}

// One line per (model, plan, pipeline stage): the ranks of a stage agree (checked separately).
std::string table(const std::vector<Row>& rows) {
  std::string out =
      "predicted / measured, rank 0 of each stage: estimate's weights, gradients, optimizer states,\n"
      "activations; simulate's activations | estimate's working + buffers vs the executor's temporaries\n";
  char line[256];
  std::set<std::string> seen;
  for (const Row& r : rows) {
    if (!seen.insert(r.model + "/" + r.plan + "/" + std::to_string(r.stage)).second) continue;
    std::snprintf(line, sizeof line, "%-10s %-44s r%-2d s%d  %6.3f %6.3f %6.3f %6.3f  %6.3f | %6.3f\n",
                  r.model.c_str(), r.plan.c_str(), r.rank, r.stage,
                  ratio(r.predicted[0], r.measured[0]), ratio(r.predicted[1], r.measured[1]),
                  ratio(r.predicted[2], r.measured[2]), ratio(r.predicted[3], r.measured[3]),
                  ratio(r.simulated_activations, r.measured[3]), ratio(r.predicted[4], r.measured[4]));
    out += line;
  }
  return out;
}

const char* kPlans[] = {
    "dp=1",
    "dp=1,mbs=4",
    "dp=2,zero=1",
    "dp=2,zero=2",
    "dp=2,zero=3",
    "dp=4,zero=3,mbs=2",
    "tp=2",
    "tp=2,sp",
    "tp=2,dp=2,sp,mbs=2",
    "tp=2,sp,recompute=selective",
    "tp=2,recompute=full",
    "dp=1,recompute=selective,mbs=2",
    "dp=1,recompute=full,mbs=2",
    "pp=2",
    "pp=4",
    "pp=2,schedule=gpipe",
    "pp=4,schedule=gpipe,mbs=2",
    "pp=2,vp=2,schedule=interleaved",
    "pp=2,vp=2,schedule=interleaved,mbs=4",
    "pp=2,schedule=zb",
    "pp=4,schedule=zb",
    "pp=2,recompute=full",
    "tp=2,pp=2,dp=2,sp,zero=1",
    "tp=2,pp=2,dp=2,sp,zero=3,recompute=selective",
    "pp=2,dp=2,zero=2,recompute=full,schedule=gpipe",
};

}  // namespace

TEST_CASE("predicted memory per category matches the executor's measured peaks") {
  std::vector<Row> all;
  for (const char* model : {"tiny-gqa", "ln-swiglu", "rms-gelu"})
    for (const char* plan : kPlans)
      for (const Row& r : compare(model, plan)) all.push_back(r);
  const std::string t = table(all);
  bool ok = true;
  for (const Row& r : all) {
    for (int k = 0; k < 4; ++k)
      if (std::abs(ratio(r.predicted[k], r.measured[k]) - 1) > kTolerance) ok = false;
    if (std::abs(ratio(r.simulated_activations, r.measured[3]) - 1) > kTolerance) ok = false;
  }
  if (!ok || std::getenv("SHARDPLAN_PRINT_MEMORY_TABLE")) MESSAGE(t);
  CHECK(ok);
}
