// Plan -> JSON document (docs/plan-format.md): the inputs as given, then the sections derived
// from them (partition, layout, groups, schedule, ZeRO), then the prediction.
#include "core/hardware_json.hpp"
#include "core/json_reader.hpp"
#include "core/model_spec_json.hpp"
#include "graph/graph_loader.hpp"
#include "graph/transformer_builder.hpp"
#include "plan/json_text.hpp"
#include "plan/plan_json.hpp"
#include "plan/plan_layout.hpp"

namespace shardplan {

namespace plan_json {

OJ strategy(const Strategy& s) {
  return OJ{{"dp", s.dp},
            {"tp", s.tp},
            {"pp", s.pp},
            {"cp", s.cp},
            {"ep", s.ep},
            {"vp", s.vp},
            {"sp", s.sp},
            {"zero", s.zero},
            {"recompute", recompute_name(s.recompute)},
            {"micro_batch", s.micro_batch},
            {"global_batch", s.global_batch},
            {"schedule", schedule_name(s.schedule)},
            {"precision", dtype_name(s.precision)},
            {"seq_len", s.seq_len},
            {"tp_comm_overlap", s.tp_comm_overlap},
            {"ep_comm_overlap", s.ep_comm_overlap},
            {"flash_attention", s.flash_attention},
            {"attention_kernel", attention_kernel_name(s.attention_kernel)},
            {"overlap_grad_reduce", s.overlap_grad_reduce},
            {"async_tp_backward", s.async_tp_backward},
            {"grad_reduce", dtype_name(s.grad_reduce)},
            {"fp8_param_gather", s.fp8_param_gather},
            {"zero3_impl", zero3_impl_name(s.zero3_impl)}};
}


namespace {
OJ model(const PlanModel& m) {
  OJ j{{"name", m.name}, {"input", m.input}};
  if (m.spec)
    j["spec"] = OJ(model_spec_to_json(*m.spec));
  else
    j["graph"] = OJ(m.graph);
  return j;
}

OJ partition(const Plan& p) {
  const Strategy& s = p.strategy;
  OJ stages = OJ::array();
  for (int64_t st = 0; st < s.pp; ++st) {
    OJ chunks = OJ::array();
    for (int64_t v = 0; v < s.vp; ++v) {
      const size_t c = static_cast<size_t>(v * s.pp + st);
      const int64_t a = p.chunk_bounds[c], b = p.chunk_bounds[c + 1];
      chunks.push_back({{"virtual", v},
                        {"chunk", c},
                        {"first_block", p.blocks[static_cast<size_t>(a)]},
                        {"last_block", p.blocks[static_cast<size_t>(b - 1)]},
                        {"blocks", b - a}});
    }
    stages.push_back({{"stage", st}, {"chunks", chunks}});
  }
  return OJ{{"blocks", p.blocks}, {"chunk_bounds", p.chunk_bounds}, {"stages", stages}};
}

OJ layout(const Strategy& s) {
  const RankLayout l(s);
  std::vector<int64_t> tp, cp, dp, pp, ep, edp;
  for (int64_t r = 0; r < l.world(); ++r) {
    RankCoords c = l.coords(r);
    tp.push_back(c.tp), cp.push_back(c.cp), dp.push_back(c.dp), pp.push_back(c.pp);
    ep.push_back(c.ep), edp.push_back(c.edp);
  }
  OJ j{{"order", "tp-cp-dp-pp"},
       {"rank", "((pp * dp_size + dp) * cp_size + cp) * tp_size + tp"},
       {"sizes", {{"tp", l.tp}, {"cp", l.cp}, {"dp", l.dp}, {"pp", l.pp}}},
       {"coordinates", {{"tp", tp}, {"cp", cp}, {"dp", dp}, {"pp", pp}}}};
  if (l.ep > 1)
    j["expert"] = {{"order", "ep-expert_dp"},
                   {"sizes", {{"expert_tp", 1}, {"ep", l.ep}, {"expert_dp", l.expert_dp()}}},
                   {"coordinates", {{"ep", ep}, {"expert_dp", edp}}}};
  return j;
}

OJ groups(const Plan& p) {
  const bool tied = p.model.spec && p.model.spec->tied_embeddings;
  OJ j = OJ::object();
  for (const GroupKind& k : process_groups(p.strategy, tied)) j[k.name] = k.groups;
  return j;
}

OJ schedule(const Strategy& s) {
  return OJ{{"name", schedule_name(s.schedule)},
            {"micro_batches", s.micro_batches()},
            {"passes", s.vp > 1 ? "F|B|W<micro-batch>.<virtual chunk>" : "F|B|W<micro-batch>"},
            {"stages", schedule_text(s)}};
}

OJ zero(const Strategy& s) {
  auto one = [&](const char* params, bool experts) {
    ZeroSharding z = zero_sharding(s, experts);
    return OJ{{"params", params},
              {"group", z.group},
              {"ways", z.ways},
              {"sharded", z.sharded},
              {"replicated", z.replicated}};
  };
  OJ list = OJ::array();
  if (s.ep > 1)
    list.push_back(one("dense", false)), list.push_back(one("experts", true));
  else
    list.push_back(one("all", false));
  return OJ{{"stage", s.zero}, {"sharding", list}};
}
}  // namespace

OJ document(const Plan& p) {
  OJ j;
  j["format"] = kPlanFormat;
  j["model"] = model(p.model);
  j["cluster"] = cluster_to_json(p.cluster);
  j["gpus"] = p.strategy.gpus();
  j["strategy"] = strategy(p.strategy);
  j["estimator"] = {{"allow_tp_across_nodes", p.allow_tp_across_nodes}};
  j["partition"] = partition(p);
  j["layout"] = layout(p.strategy);
  j["groups"] = groups(p);
  j["schedule"] = schedule(p.strategy);
  j["zero"] = zero(p.strategy);
  j["prediction"] = p.prediction;
  return j;
}

}  // namespace plan_json

Plan make_plan(const LoadedModel& m, const ClusterSpec& cluster, const Strategy& s,
               bool allow_tp_across_nodes, const std::vector<int64_t>& chunk_bounds,
               nlohmann::ordered_json prediction) {
  Plan p;
  p.model.name = m.graph.name;
  p.model.input = m.format;
  p.model.spec = m.spec;
  if (!m.spec) p.model.graph = parse_json_file(m.file);
  p.cluster = cluster;
  p.strategy = s;
  p.allow_tp_across_nodes = allow_tp_across_nodes;
  for (const Block& b : m.graph.blocks) p.blocks.push_back(b.name);
  p.chunk_bounds = chunk_bounds;
  prediction.erase("strategy");
  p.prediction = std::move(prediction);
  return p;
}

OpGraph plan_graph(const Plan& p, const std::string& file) {
  if (p.model.spec) return build_transformer_graph(*p.model.spec);
  return op_graph_from_json(JsonObject(p.model.graph, file, "/model/graph"), p.strategy.seq_len);
}

std::string plan_to_text(const Plan& p) {
  return json_to_text(plan_json::document(p)) + "\n";
}

}  // namespace shardplan
