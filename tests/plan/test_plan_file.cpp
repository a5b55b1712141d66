// The plan file: read -> write gives the same bytes; every section is there; a big run stays
// small; bad files fail with the file, the JSON path and what was expected.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "cli/estimate_json.hpp"
#include "core/error.hpp"
#include "costmodel/estimate.hpp"
#include "plan/plan.hpp"
#include "plan_fixtures.hpp"

using namespace shardplan;
using shardplan_test::fixed_plan;

namespace {
Strategy pipelined() {
  Strategy s;
  s.tp = 2, s.pp = 2, s.sp = true, s.zero = 1, s.micro_batch = 1, s.global_batch = 16;
  return s;
}

// The InputError that reading `text` throws, as "path: message".
std::string read_error(const std::string& text) {
  try {
    plan_from_text(text, "bad.json");
  } catch (const InputError& e) {
    CHECK(e.file() == "bad.json");
    return e.json_path() + ": " + e.message();
  }
  return "no error";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return s.replace(at, from.size(), to);
}
}  // namespace

TEST_CASE("plan file: read then write gives the same bytes") {
  for (const char* model : {"tiny-dense", "tiny-moe"}) {
    CAPTURE(model);
    Strategy s = pipelined();
    if (std::string(model) == "tiny-moe") s.ep = 2;
    const Plan p = fixed_plan(model, "dgx-h100", 16, s);
    const std::string text = plan_to_text(p);
    const Plan back = plan_from_text(text, "p.json");
    CHECK(back == p);
    CHECK(plan_to_text(back) == text);
    CHECK(plan_to_text(fixed_plan(model, "dgx-h100", 16, s)) == text);  // deterministic
  }
}

TEST_CASE("plan file: the gradients' type round-trips; a plan written before it reads as fp32") {
  Strategy s = pipelined();
  s.grad_reduce = DType::bf16;
  const std::string text = plan_to_text(fixed_plan("tiny-dense", "dgx-h100", 16, s));
  CHECK(plan_from_text(text, "p.json").strategy.grad_reduce == DType::bf16);
  // Written before grad_reduce, fp8_param_gather and ep_comm_overlap existed: their defaults, what
  // such a plan priced.
  std::string old = plan_to_text(fixed_plan("tiny-dense", "dgx-h100", 16, pipelined()));
  old = replace(old, ",\n  \"grad_reduce\": \"fp32\"", "");
  old = replace(old, ",\n  \"fp8_param_gather\": false", "");
  old = replace(old, "\n  \"ep_comm_overlap\": false,", "");
  old = replace(old, ",\n  \"attention_kernel\": \"default\"", "");
  const Plan back = plan_from_text(old, "old.json");
  CHECK(back.strategy.grad_reduce == DType::fp32);
  CHECK_FALSE(back.strategy.fp8_param_gather);
  CHECK(plan_to_text(back) == plan_to_text(fixed_plan("tiny-dense", "dgx-h100", 16, pipelined())));
}

TEST_CASE("plan file: GPU-profile keys a plan was written without read as their defaults") {
  // The profile gains keys as the cost model learns (attention_head_dim, attention_kernels,
  // sustained_compute_fraction, clock_variation came after the first plan files). Presets may
  // leave any of them out, and so may a plan file: it then reads as the preset loader reads it.
  const Plan p = fixed_plan("tiny-dense", "dgx-h100", 16, pipelined());
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(plan_to_text(p));
  for (const char* key : {"attention_head_dim", "attention_kernels", "sustained_compute_fraction", "clock_variation"}) {
    REQUIRE(j["cluster"]["gpu"].contains(key));
    j["cluster"]["gpu"].erase(key);
  }
  const Plan back = plan_from_text(j.dump(2), "old.json");
  const GpuSpec expected = gpu_from_json_text(j["cluster"]["gpu"].dump(), "gpu.json");
  CHECK(back.cluster.gpu == expected);
  CHECK(back.cluster.gpu.sustained_compute_fraction == 1.0);
  CHECK(back.strategy == p.strategy);
  // A value of the wrong type is still refused, with its path.
  j["cluster"]["gpu"]["gemm_tile_m"] = "wide";
  CHECK(read_error(j.dump(2)).rfind("/cluster/gpu/gemm_tile_m", 0) == 0);
}

TEST_CASE("plan file: a real estimate round-trips too (analytic prediction of gpt-22b)") {
  LoadedModel m = load_model(shardplan_test::source_file("models/gpt-22b.json"));
  ClusterSpec c = load_cluster("dgx-a100");
  c.set_gpu_count(64);
  Strategy s = pipelined();
  s.tp = 8, s.pp = 4, s.dp = 2, s.vp = 2, s.schedule = Schedule::interleaved, s.global_batch = 64;
  s.recompute = Recompute::selective, s.seq_len = m.graph.seq_len;
  Estimator est(m.graph, c);
  const Estimate e = est.estimate(s);
  REQUIRE(e.valid());
  const Plan p = make_plan(m, c, s, false, e.chunk_bounds, cli::estimate_json(e, s, m.graph));
  CHECK_FALSE(p.prediction.contains("strategy"));
  const std::string text = plan_to_text(p);
  CHECK(plan_to_text(plan_from_text(text, "p.json")) == text);
}

TEST_CASE("plan file: the sections a run needs") {
  const Plan p = fixed_plan("tiny-dense", "dgx-h100", 16, pipelined());
  const auto j = nlohmann::json::parse(plan_to_text(p));
  CHECK(j["format"] == "shardplan.plan/1");
  for (const char* k : {"model", "cluster", "gpus", "strategy", "estimator", "partition", "layout",
                        "groups", "schedule", "zero", "prediction"})
    CHECK_MESSAGE(j.contains(k), k);
  CHECK(j["model"]["spec"]["layers"] == 2);
  CHECK(j["cluster"]["nodes"] == 2);
  CHECK(j["partition"]["chunk_bounds"] == nlohmann::json::array({0, 2, 4}));
  CHECK(j["partition"]["stages"][1]["chunks"][0]["last_block"] == "head");
  CHECK(j["layout"]["coordinates"]["pp"][8] == 1);
  CHECK(j["groups"]["tp"][0] == nlohmann::json::array({0, 1}));
  CHECK(j["groups"]["pp"][0] == nlohmann::json::array({0, 8}));
  CHECK(j["schedule"]["stages"][0] == "F0 F1 B0 F2 B1 F3 B2 B3");  // 1F1B, pp 2, 4 micro-batches
  CHECK(j["zero"]["sharding"][0]["group"] == "dp");
  CHECK(j["zero"]["sharding"][0]["ways"] == 4);
  // The strategy section carries every field the estimate contract does.
  nlohmann::json contract = cli::strategy_json(p.strategy);
  for (auto it = contract.begin(); it != contract.end(); ++it)
    CHECK_MESSAGE(j["strategy"].contains(it.key()), it.key());
  CHECK(j["strategy"].size() == contract.size());
}

TEST_CASE("plan file: 3072 GPUs, pp 64, 512 micro-batches stays a few hundred KB") {
  Strategy s;
  s.tp = 8, s.pp = 64, s.sp = true, s.zero = 1, s.micro_batch = 1,
  s.global_batch = 3072;  // dp 6: 512 per replica
  const Plan p = fixed_plan("gpt-1t", "dgx-a100", 3072, s);
  CHECK(p.strategy.micro_batches() == 512);
  const std::string text = plan_to_text(p);
  CHECK(text.size() < 1'500'000);
  size_t lines = 0;
  for (char ch : text) lines += ch == '\n';
  CHECK(lines < 5000);  // rank lists are one line each
  CHECK(plan_to_text(plan_from_text(text, "big.json")) == text);
}

TEST_CASE("plan file: errors name the path and what was expected") {
  const std::string good = plan_to_text(fixed_plan("tiny-dense", "dgx-h100", 16, pipelined()));
  CHECK(read_error(replace(good, "shardplan.plan/1", "shardplan.plan/2"))
            .rfind("/format: expected \"shardplan.plan/1\"", 0) == 0);
  CHECK(read_error(replace(good, "\"tp\": 2,", "\"tp\": \"two\","))
            .rfind("/strategy/tp: expected an integer", 0) == 0);
  CHECK(read_error(replace(good, "\"schedule\": \"1f1b\"", "\"schedule\": \"1fb1\""))
            .find("did you mean \"1f1b\"") != std::string::npos);
  CHECK(read_error(replace(good, "\"global_batch\": 16", "\"global_batch\": 15"))
            .rfind("/strategy/global_batch: expected a multiple", 0) == 0);
  CHECK(read_error(replace(good, "\"chunk_bounds\": [0,2,4]", "\"chunk_bounds\": [0,4,4]"))
            .rfind("/partition/chunk_bounds/1", 0) == 0);
  // Expert parallelism re-divides one stage's dp*tp*cp ranks (here 8): refused before any
  // ep-sized group is built from it.
  CHECK(read_error(replace(good, "\"ep\": 1,", "\"ep\": 3,"))
            .rfind("/strategy/ep: expected a divisor of dp * tp * cp = 8, found 3", 0) == 0);
  CHECK(read_error(replace(good, "\"ep\": 1,", "\"ep\": 4611686018427387904,"))
            .rfind("/strategy/ep: expected a divisor of dp * tp * cp = 8", 0) == 0);
  CHECK(read_error(replace(good, "\"chunk_bounds\": [0,2,4]", "\"chunk_bounds\": [0,18446744073709551615,4]"))
            .rfind("/partition/chunk_bounds/1: expected a block index, found an integer (18446744073709551615)", 0) == 0);
  CHECK(read_error(replace(replace(good, "\"vp\": 1,", "\"vp\": 4,"), "\"schedule\": \"1f1b\"", "\"schedule\": \"interleaved\""))
            .rfind("/partition/chunk_bounds: expected at most one chunk per block: pp*vp = 8 chunks for 4 blocks", 0) == 0);
  CHECK(read_error(replace(good, "\"gpus\": 16", "\"gpus\": 8"))
            .rfind("/gpus: expected dp*tp*pp*cp = 16", 0) == 0);
  CHECK(read_error(replace(good, "\"format\"", "\"extra\": 1, \"format\""))
            .rfind("/extra: unknown field", 0) == 0);
  // A derived section that disagrees with the strategy: the first differing rank is named.
  CHECK(read_error(replace(good, "[0,1],", "[0,2],")).rfind("/groups/tp/0/1: expected 1", 0) == 0);
  CHECK(read_error(replace(good, "\"F0 F1 B0", "\"F1 F0 B0"))
            .rfind("/schedule/stages/0: expected", 0) == 0);
  CHECK(read_error(replace(good, "\"mfu\": 0.5", "\"mfu\": \"high\""))
            .rfind("/prediction/mfu: expected a number", 0) == 0);
  CHECK(read_error(replace(good, "\"name\": \"tiny-dense\",\n  \"input\"", "\"name\": \"\",\n  \"input\""))
            .rfind("/model/name: expected a non-empty model name", 0) == 0);
  CHECK(read_error(replace(good, "\"grad_reduce\": \"fp32\"", "\"grad_reduce\": \"fp16\""))
            .rfind("/strategy/grad_reduce: gradients reduced in fp16 need fp16 training (precision is bf16)", 0) == 0);
  CHECK(read_error(replace(good, "\"grad_reduce\": \"fp32\"", "\"grad_reduce\": \"fp8\""))
            .rfind("/strategy/grad_reduce: expected one of", 0) == 0);
  CHECK(read_error("{").find("malformed JSON") != std::string::npos);
  CHECK_THROWS_AS(read_plan_file("/nonexistent/plan.json"), InputError);
  // A key twice was read as its last value; a directory as "malformed JSON at byte 1".
  CHECK(read_error(replace(good, "\"format\"", "\"gpus\": 8, \"format\""))
            .rfind("/: duplicate key \"gpus\"", 0) == 0);
  CHECK_THROWS_WITH_AS(read_plan_file(SHARDPLAN_SOURCE_DIR), doctest::Contains("is a directory"),
                       InputError);
}

TEST_CASE("plan file: the prediction holds the estimate contract's keys, with physical numbers") {
  const std::string good = plan_to_text(fixed_plan("tiny-dense", "dgx-h100", 16, pipelined()));
  // An unknown key was read back and left for `check` to list as a changed prediction (exit 1).
  CHECK(read_error(replace(good, "\"step_time_s\": 1.25", "\"bogus\": 1, \"step_time_s\": 1.25"))
            .rfind("/prediction/bogus: unknown field \"bogus\"", 0) == 0);
  CHECK(read_error(replace(good, "\"params_bytes\": 1000000000.0", "\"params_byte\": 1000000000.0"))
            .rfind("/prediction/memory/per_stage/0/params_byte: unknown field", 0) == 0);
  // A negative step time was accepted, and `emit` printed "predicted: -1.000 s/step".
  CHECK(read_error(replace(good, "\"step_time_s\": 1.25", "\"step_time_s\": -1"))
            .rfind("/prediction/step_time_s: expected a positive number, found -1", 0) == 0);
  CHECK(read_error(replace(good, "\"tokens_per_s\": 100000.0", "\"tokens_per_s\": 0"))
            .rfind("/prediction/tokens_per_s: expected a positive number", 0) == 0);
  CHECK(read_error(replace(good, "\"peak_memory_bytes\": 12250000000.0", "\"peak_memory_bytes\": -5"))
            .rfind("/prediction/peak_memory_bytes: expected a non-negative number, found -5", 0) == 0);
  CHECK(read_error(replace(good, "\"mfu\": 0.5", "\"mfu\": -0.5"))
            .rfind("/prediction/mfu: expected a non-negative number", 0) == 0);
  CHECK(read_error(replace(good, "\"total_bytes\": 12250000000.0", "\"total_bytes\": -1.0"))
            .rfind("/prediction/memory/per_stage/0/total_bytes: expected a non-negative number", 0) == 0);
  CHECK(read_error(replace(good, "\"peak_stage\": 0", "\"peak_stage\": 2"))
            .rfind("/prediction/peak_stage: expected a stage in 0..1, found 2", 0) == 0);
}
