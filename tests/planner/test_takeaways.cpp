// The ranking claims of Narayanan et al. (SC'21, arXiv:2104.04473, §5.4), measured on 64 A100s of
// Selene, against what the search ranks. The calibration rows check absolute step times; these
// check the order of configurations the paper measured side by side, which is what the planner's
// choice rests on.
//
// - Figure 13, "Tensor versus Pipeline Parallelism": GPT 162.2B on 64 GPUs, (t, p) from (2, 32)
//   to (32, 2), batch 32 and 128. Peak at t = 8, the size of a node; worse on both sides
//   (Takeaway #1: tensor parallelism up to the node, then pipeline parallelism).
// - Figure 14, "Pipeline versus Data Parallelism": GPT 5.9B, micro-batch 1, batch 32, 128 and 512;
//   throughput falls as the pipeline gets deeper, (p, d) = (2, 32), (4, 16), (8, 8).
// - Figure 15, "Tensor versus Data Parallelism": the same model; throughput falls as t grows,
//   (t, d) = (2, 32), (4, 16), (8, 8) (Takeaway #2: data parallelism where the model fits).
//
// The models are the paper's: 162.2B = 32 layers of h 20480 with 128 heads (12·l·h² + V·h =
// 161.1B + 1.05B); 5.9B = 32 layers of h 3840 with 32 heads (5.66B + 0.20B). GPT lineage, s 2048,
// V 51200, fp16, full activation recompute (the paper's runs count the recompute forward, eq. 3).
#include <doctest/doctest.h>

#include "core/hardware.hpp"
#include "graph/transformer_builder.hpp"
#include "planner/search.hpp"

using namespace shardplan;

namespace {
ModelSpec gpt(int64_t layers, int64_t hidden, int64_t heads, const std::string& name) {
  ModelSpec m;
  m.name = name;
  m.layers = layers;
  m.hidden = hidden;
  m.heads = heads;
  m.kv_heads = heads;
  m.head_dim = hidden / heads;
  m.ffn_hidden = 4 * hidden;
  m.vocab = 51200;
  m.seq_len = 2048;
  m.tied_embeddings = true;
  return m;
}

// Every (tp, pp) the figure shows, at micro-batch 1 and full recompute without sequence
// parallelism (2021's Megatron-LM); returns the step times in the order of `tps`.
std::vector<double> step_times(const OpGraph& g, int64_t batch, const std::vector<int64_t>& tps,
                               const std::vector<int64_t>& pps) {
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(64);
  SearchSpace sp;
  sp.tp = tps;
  sp.pp = pps;
  sp.cp = {1};
  sp.vp = {1};
  sp.micro_batch = {1};
  sp.zero = {0};
  sp.recompute = {Recompute::full};
  sp.schedule = {Schedule::one_f_one_b};
  sp.sp = {false};
  sp.tp_comm_overlap = {false};
  SearchOptions o;
  o.gpus = 64;
  o.global_batch = batch;
  o.precision = DType::fp16;
  o.grad_reduce = DType::fp16;  // the SC21 scripts' --fp16 without fp32 gradient accumulation
  o.flash_attention = false;
  o.async_tp_backward = false;
  o.allow_tp_across_nodes = true;
  o.memory_headroom = 0;
  o.top_k = 1000;
  SearchResult r = search(g, c, sp, o);
  std::vector<double> t;
  for (size_t i = 0; i < tps.size(); ++i) {
    double best = 0;
    for (const Candidate& x : r.top)
      if (x.strategy.tp == tps[i] && x.strategy.pp == pps[i]) best = x.estimate.step_time_s;
    CAPTURE(tps[i]);
    CAPTURE(pps[i]);
    REQUIRE(best > 0);  // the figure's configuration ran, so it must fit
    t.push_back(best);
  }
  return t;
}
}  // namespace

TEST_CASE("Narayanan Fig. 13: tensor parallelism up to the node, then pipeline (GPT 162.2B, 64 GPUs)") {
  OpGraph g = build_transformer_graph(gpt(32, 20480, 128, "gpt-162.2b"));
  for (int64_t batch : {32, 128}) {
    CAPTURE(batch);
    std::vector<double> t = step_times(g, batch, {2, 4, 8, 16, 32}, {32, 16, 8, 4, 2});
    // Left of the peak a deeper pipeline (more bubble per micro-batch); right of it tensor
    // parallelism across nodes.
    CHECK(t[0] > t[1]);
    CHECK(t[1] > t[2]);
    CHECK(t[2] < t[3]);
    CHECK(t[3] < t[4]);
  }
}

TEST_CASE("Narayanan Fig. 14: throughput falls as the pipeline deepens (GPT 5.9B, 64 GPUs)") {
  OpGraph g = build_transformer_graph(gpt(32, 3840, 32, "gpt-5.9b"));
  for (int64_t batch : {32, 128, 512}) {
    CAPTURE(batch);
    std::vector<double> t = step_times(g, batch, {1, 1, 1}, {2, 4, 8});
    CHECK(t[0] < t[1]);
    CHECK(t[1] < t[2]);
  }
}

TEST_CASE("Narayanan Fig. 15: throughput falls as tensor parallelism grows (GPT 5.9B, 64 GPUs)") {
  OpGraph g = build_transformer_graph(gpt(32, 3840, 32, "gpt-5.9b"));
  for (int64_t batch : {32, 128, 512}) {
    CAPTURE(batch);
    std::vector<double> t = step_times(g, batch, {2, 4, 8}, {1, 1, 1});
    CHECK(t[0] < t[1]);
    CHECK(t[1] < t[2]);
  }
}
