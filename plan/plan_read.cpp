// Reading a plan file: the input sections are parsed field by field (typed errors with JSON
// paths); the derived sections must then equal what the inputs imply, so a plan that reads back
// is consistent and writes back to the same bytes.
#include <limits>

#include "core/json_reader.hpp"
#include "core/model_spec_json.hpp"
#include "plan/json_text.hpp"
#include "plan/plan_json.hpp"
#include "simulator/schedule.hpp"

namespace shardplan {

namespace {
// Strategy keys a plan file may lack, with the value it then means.
const std::vector<std::pair<std::string, Json>> kStrategyKeysWithDefaults = {
    {"ep_comm_overlap", false}, {"grad_reduce", "fp32"},   {"fp8_param_gather", false},
    {"zero3_impl", "fsdp"},     {"attention_kernel", "default"}};

Strategy strategy_from(const JsonObject& o) {
  o.reject_unknown({"dp", "tp", "pp", "cp", "ep", "vp", "sp", "zero", "recompute", "micro_batch",
                    "global_batch", "schedule", "precision", "seq_len", "tp_comm_overlap",
                    "ep_comm_overlap", "flash_attention", "attention_kernel", "overlap_grad_reduce", "async_tp_backward",
                    "grad_reduce", "fp8_param_gather", "zero3_impl"});
  Strategy s;
  s.dp = o.get_positive_int("dp");
  s.tp = o.get_positive_int("tp");
  s.pp = o.get_positive_int("pp");
  s.cp = o.get_positive_int("cp");
  s.ep = o.get_positive_int("ep");
  // Expert parallelism re-divides one pipeline stage's dp * tp * cp ranks (Megatron-Core asserts
  // it divides them); checked before the derived sections build ep-sized groups. A product that
  // overflows is refused by the size guard below.
  int64_t stage_ranks = 0;
  if (!__builtin_mul_overflow(s.dp, s.tp, &stage_ranks) && !__builtin_mul_overflow(stage_ranks, s.cp, &stage_ranks) &&
      stage_ranks % s.ep != 0)
    o.fail("ep", "expected a divisor of dp * tp * cp = " + std::to_string(stage_ranks) + ", found " +
                     std::to_string(s.ep));
  s.vp = o.get_positive_int("vp");
  s.sp = o.get_bool("sp");
  const int64_t zero = o.get_int("zero");
  if (zero < 0 || zero > 3)
    o.fail("zero", "expected a ZeRO stage 0..3, found " + std::to_string(zero));
  s.zero = static_cast<int>(zero);
  parse_recompute(o.get_enum("recompute", recompute_names(), ""), s.recompute);
  s.micro_batch = o.get_positive_int("micro_batch");
  s.global_batch = o.get_positive_int("global_batch");
  parse_schedule(o.get_enum("schedule", {"gpipe", "1f1b", "interleaved", "zb"}, ""), s.schedule);
  s.precision = *parse_dtype(o.get_enum("precision", {"fp32", "bf16", "fp16", "fp8"}, ""));
  s.seq_len = o.get_positive_int("seq_len");
  s.tp_comm_overlap = o.get_bool("tp_comm_overlap");
  s.ep_comm_overlap = o.get_bool("ep_comm_overlap", false);  // absent from plans written before it
  s.flash_attention = o.get_bool("flash_attention");
  parse_attention_kernel(o.get_enum("attention_kernel", attention_kernel_names(), "default"), s.attention_kernel);
  s.overlap_grad_reduce = o.get_bool("overlap_grad_reduce");
  s.async_tp_backward = o.get_bool("async_tp_backward");
  s.grad_reduce = *parse_dtype(o.get_enum("grad_reduce", {"fp32", "bf16", "fp16"}, "fp32"));
  if (std::string why = grad_reduce_error(s); !why.empty()) o.fail("grad_reduce", why);
  s.fp8_param_gather = o.get_bool("fp8_param_gather", false);
  if (s.fp8_param_gather && !fp8_param_gather_allowed(s.precision, s.zero))
    o.fail("fp8_param_gather", "expected false unless precision is fp8 and zero >= 1");
  parse_zero3_impl(o.get_enum("zero3_impl", zero3_impl_names(), "fsdp"), s.zero3_impl);
  if (s.zero3_impl != Zero3Impl::fsdp && (s.zero != 3 || s.pp > 1))
    o.fail("zero3_impl", std::string("expected fsdp unless zero is 3 and pp is 1, found ") + zero3_impl_name(s.zero3_impl));
  // Divisibility checked without overflow: dp * micro_batch is formed only when <= global_batch.
  if (s.dp > s.global_batch / s.micro_batch || s.global_batch % (s.dp * s.micro_batch) != 0)
    o.fail("global_batch", "expected a multiple of dp * micro_batch = " + std::to_string(s.dp) + " * " +
                               std::to_string(s.micro_batch) + ", found " + std::to_string(s.global_batch));
  std::string why = schedule_error(s.schedule, s.pp, s.vp, s.micro_batches());
  if (!why.empty()) o.fail("schedule", "expected a schedule that can run: " + why);
  return s;
}

ClusterSpec cluster_from(const JsonObject& top) {
  const Json& c = top.raw("cluster");
  try {
    return cluster_from_json_text(c.dump(), top.file());
  } catch (const InputError& e) {
    throw InputError(e.file(), "/cluster" + (e.json_path() == "/" ? std::string() : e.json_path()),
                     e.message());
  }
}

PlanModel model_from(const JsonObject& o) {
  o.reject_unknown({"name", "input", "spec", "graph"});
  PlanModel m;
  m.name = o.get_string("name");
  if (m.name.empty()) o.fail("name", "expected a non-empty model name, found \"\"");
  m.input = o.get_enum("input", {"spec", "hf", "graph"}, "");
  if (m.input == "graph") {
    m.graph = o.get_object("graph").json();
    if (o.has("spec")) o.fail("spec", "unknown field: a graph model has \"graph\", not \"spec\"");
  } else {
    m.spec = model_spec_from_json(o.get_object("spec"));
    if (o.has("graph"))
      o.fail("graph", "unknown field: a " + m.input + " model has \"spec\", not \"graph\"");
  }
  return m;
}

void read_partition(const JsonObject& o, Plan& p) {
  const Json& blocks = o.raw("blocks");
  if (!blocks.is_array() || blocks.empty())
    o.fail("blocks", "expected a non-empty array of block names");
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (!blocks[i].is_string())
      o.fail("blocks/" + std::to_string(i),
             "expected a block name, found " + describe_json(blocks[i]));
    p.blocks.push_back(blocks[i].get<std::string>());
  }
  const Json& b = o.raw("chunk_bounds");
  const size_t chunks = static_cast<size_t>(p.strategy.pp * p.strategy.vp);
  if (static_cast<int64_t>(chunks) > static_cast<int64_t>(p.blocks.size()))
    o.fail("chunk_bounds", "expected at most one chunk per block: pp*vp = " + std::to_string(chunks) +
                               " chunks for " + std::to_string(p.blocks.size()) + " blocks");
  if (!b.is_array() || b.size() != chunks + 1)
    o.fail("chunk_bounds",
           "expected an array of pp*vp+1 = " + std::to_string(chunks + 1) + " block indices");
  const int64_t n = static_cast<int64_t>(p.blocks.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const std::string key = "chunk_bounds/" + std::to_string(i);
    if (!b[i].is_number_integer() ||
        (b[i].is_number_unsigned() && b[i].get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())))
      o.fail(key, "expected a block index, found " + describe_json(b[i]));
    const int64_t v = b[i].get<int64_t>();
    if (i == 0 || i == chunks) {
      const int64_t want = i == 0 ? 0 : n;
      if (v != want)
        o.fail(key, "expected " + std::to_string(want) + " (the " + (i ? "end" : "start") +
                        " of the model), found " + std::to_string(v));
    } else {
      // Every chunk holds at least one block: leave one for each chunk still to come.
      const int64_t lo = p.chunk_bounds.back() + 1, hi = n - static_cast<int64_t>(chunks - i);
      if (v < lo || v > hi)
        o.fail(key, "expected a block index in " + std::to_string(lo) + ".." + std::to_string(hi) +
                        " (every chunk holds at least one block), found " + std::to_string(v));
    }
    p.chunk_bounds.push_back(v);
  }
}

// Seconds, rates, fractions and bytes: a negative one is no prediction.
void non_negative(const JsonObject& o, const std::string& key) {
  if (o.get_number(key) < 0)
    o.fail(key, "expected a non-negative number, found " + o.raw(key).dump());
}

// The estimate contract (docs/estimate-format.md) less its strategy: `plan --out` writes all of it;
// step time, tokens/s, MFU, peak memory and the per-stage memory are required.
void check_prediction(const JsonObject& o, int64_t pp) {
  o.reject_unknown({"step_time_s", "tokens_per_s", "model_tflops_per_gpu", "hardware_tflops_per_gpu",
                    "mfu", "hfu", "fits", "peak_memory_bytes", "peak_stage", "overflow", "memory",
                    "breakdown", "bubble_fraction", "exposed_comm_fraction"});
  for (const char* k : {"step_time_s", "tokens_per_s"}) o.get_positive_number(k);
  for (const char* k : {"mfu", "peak_memory_bytes"}) non_negative(o, k);
  for (const char* k : {"model_tflops_per_gpu", "hardware_tflops_per_gpu", "hfu", "bubble_fraction",
                        "exposed_comm_fraction"})
    if (o.has(k)) non_negative(o, k);
  o.get_bool("fits", true);
  if (o.has("peak_stage") && (o.get_int("peak_stage") < 0 || o.get_int("peak_stage") >= pp))
    o.fail("peak_stage", "expected a stage in 0.." + std::to_string(pp - 1) + ", found " +
                             o.raw("peak_stage").dump());
  if (o.has("overflow")) {
    JsonObject of = o.get_object("overflow");
    of.reject_unknown({"stage", "bytes", "detail"});
    if (of.get_int("stage") < 0) of.fail("stage", "expected a non-negative stage");
    non_negative(of, "bytes");
    of.get_string("detail");
  }
  if (o.has("breakdown")) {
    JsonObject b = o.get_object("breakdown");
    const std::vector<std::string> terms = {"compute_s", "recompute_s", "tp_comm_s",
                                            "cp_comm_s", "ep_comm_s",   "pp_comm_s",
                                            "pp_bubble_s", "dp_comm_s", "optimizer_s"};
    b.reject_unknown(terms);
    for (const auto& k : terms)
      if (b.has(k)) non_negative(b, k);
  }
  JsonObject mem = o.get_object("memory");
  mem.reject_unknown({"per_stage"});
  const Json& st = mem.raw("per_stage");
  if (!st.is_array() || static_cast<int64_t>(st.size()) != pp)
    mem.fail("per_stage",
             "expected an array with one entry per pipeline stage (" + std::to_string(pp) + ")");
  for (size_t i = 0; i < st.size(); ++i) {
    JsonObject so(st[i], o.file(), mem.path_of("per_stage") + "/" + std::to_string(i));
    so.reject_unknown({"stage", "chunks", "params_bytes", "grads_bytes", "optimizer_bytes",
                       "activations_bytes", "working_bytes", "buffers_bytes", "runtime_bytes",
                       "total_bytes", "inflight_micro_batches"});
    for (const char* k : {"params_bytes", "grads_bytes", "optimizer_bytes", "activations_bytes",
                          "buffers_bytes", "runtime_bytes", "total_bytes"})
      non_negative(so, k);
    for (const char* k : {"stage", "working_bytes", "inflight_micro_batches"})
      if (so.has(k)) non_negative(so, k);
    if (!so.has("chunks")) continue;
    const Json& chunks = so.raw("chunks");
    if (!chunks.is_array()) so.fail("chunks", "expected an array of chunks, found " + describe_json(chunks));
    for (size_t c = 0; c < chunks.size(); ++c) {
      JsonObject co(chunks[c], o.file(), so.path_of("chunks") + "/" + std::to_string(c));
      co.reject_unknown({"virtual", "chunk", "first_block", "last_block", "blocks"});
      if (co.get_int("chunk") < 0) co.fail("chunk", "expected a non-negative chunk index");
      if (co.has("virtual") && co.get_int("virtual") < 0) co.fail("virtual", "expected a non-negative virtual stage");
      co.get_string("first_block");
      co.get_string("last_block");
      co.get_positive_int("blocks");
    }
  }
}

std::string derived_message(const JsonDifference& d) {
  if (d.found == "missing") return "missing required field: expected " + d.expected;
  if (d.expected == "missing") return "unknown field (found " + d.found + ")";
  return "expected " + d.expected +
         " (what the model, cluster, strategy and partition imply), found " + d.found;
}
}  // namespace

Plan plan_from_text(const std::string& text, const std::string& file) {
  const Json j = parse_json_text(text, file);
  JsonObject top(j, file, "");
  const std::string format = top.get_string("format");
  if (format != kPlanFormat)
    top.fail("format", std::string("expected \"") + kPlanFormat + "\", found \"" + format + "\"" +
                           (format.rfind("shardplan.plan/", 0) == 0
                                ? " (a plan format version this build cannot read)"
                                : ""));
  top.reject_unknown({"format", "model", "cluster", "gpus", "strategy", "estimator", "partition",
                      "layout", "groups", "schedule", "zero", "prediction"});
  Plan p;
  p.model = model_from(top.get_object("model"));
  p.cluster = cluster_from(top);
  p.strategy = strategy_from(top.get_object("strategy"));
  const int64_t gpus = top.get_positive_int("gpus");
  int64_t product = 1;  // dp*tp*pp*cp, which absurd degrees would overflow
  bool overflow = false;
  for (int64_t d : {p.strategy.dp, p.strategy.tp, p.strategy.pp, p.strategy.cp})
    overflow = overflow || __builtin_mul_overflow(product, d, &product);
  if (overflow || gpus != product)
    top.fail("gpus", "expected dp*tp*pp*cp = " + (overflow ? std::string("(beyond 2^63)") : std::to_string(product)) +
                         ", found " + std::to_string(gpus));
  // The layout lists every rank in several groups (8 bytes a rank at the least: "12," in the
  // tp, dp and pp groups; written plans take 14 or more) and the schedule every pass (an F and a
  // B of 3 bytes or more, "F0 ", per micro-batch and chunk); a file too short to hold them cannot
  // match them, so say so before building them (a few bytes of input must not cost gigabytes).
  const double passes = double(p.strategy.pp) * double(p.strategy.vp) * double(p.strategy.micro_batches());
  const double size = double(text.size());
  if (8 * double(gpus) > size || 6 * passes > size)
    top.fail(8 * double(gpus) > size ? "gpus" : "strategy",
             "expected a plan whose layout (" + std::to_string(gpus) + " ranks) and schedule (pp " +
                 std::to_string(p.strategy.pp) + " x vp " + std::to_string(p.strategy.vp) + " x " +
                 std::to_string(p.strategy.micro_batches()) + " micro-batches) fit in its " +
                 std::to_string(text.size()) + " bytes");
  if (p.cluster.total_gpus() != gpus)
    throw InputError(file, "/cluster/nodes",
                     "expected nodes * gpus_per_node = gpus (" + std::to_string(gpus) +
                         "), found " + std::to_string(p.cluster.nodes) + " * " +
                         std::to_string(p.cluster.gpus_per_node));
  if (p.model.spec && p.model.spec->seq_len != p.strategy.seq_len)
    throw InputError(file, "/strategy/seq_len",
                     "expected the model's seq_len " + std::to_string(p.model.spec->seq_len) +
                         ", found " + std::to_string(p.strategy.seq_len));
  JsonObject est = top.get_object("estimator");
  est.reject_unknown({"allow_tp_across_nodes"});
  p.allow_tp_across_nodes = est.get_bool("allow_tp_across_nodes");
  read_partition(top.get_object("partition"), p);
  const OpGraph g = plan_graph(p, file);
  for (size_t i = 0; i < g.blocks.size() || i < p.blocks.size(); ++i)
    if (i >= g.blocks.size() || i >= p.blocks.size() || g.blocks[i].name != p.blocks[i])
      throw InputError(
          file, "/partition/blocks/" + std::to_string(i),
          "expected the model's block " +
              (i < g.blocks.size() ? "\"" + g.blocks[i].name + "\"" : "list to end") + ", found " +
              (i < p.blocks.size() ? "\"" + p.blocks[i] + "\"" : "the end of the list"));
  check_prediction(top.get_object("prediction"), p.strategy.pp);
  p.prediction = nlohmann::ordered_json::parse(text)["prediction"];
  // Strategy keys added after plan files were first written read as their defaults when absent,
  // which is what the plans without them priced (kStrategyKeysWithDefaults).
  Json given = j;
  for (const auto& [key, value] : kStrategyKeysWithDefaults)
    if (!given["strategy"].contains(key)) given["strategy"][key] = value;
  // Every GPU-profile key but the name is optional in hardware files (docs/hardware.md), and the
  // profile gains keys as the cost model learns physics: one the file lacks read as its default
  // when the cluster was parsed, so the derived document's value stands for it.
  const Json derived = plan_json::document(p);
  Json& gpu = given["cluster"]["gpu"];
  if (gpu.is_object())
    for (const auto& [key, value] : derived["cluster"]["gpu"].items())
      if (!gpu.contains(key)) gpu[key] = value;
  auto diffs = json_differences(derived, given, 0.0, 1);
  if (!diffs.empty()) throw InputError(file, diffs.front().path, derived_message(diffs.front()));
  return p;
}

Plan read_plan_file(const std::string& file) {
  return plan_from_text(read_input_file(file), file);
}

}  // namespace shardplan
