// End to end through the built binary: `plan --out` writes a plan that `check` accepts; a changed
// prediction exits 1 and a broken plan 2 (one line: file, JSON path, expected); `emit` and
// `report` write what they promise, and refuse what they cannot do with status 2.
#include <sstream>
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_run.hpp"
#include "tests/plan/plan_fixtures.hpp"

using shardplan_test::CliResult;
using shardplan_test::run_cli;
using shardplan_test::ScratchDir;
using shardplan_test::slurp;
using shardplan_test::source_path;

namespace {
bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

bool one_error_line(const std::string& err) {
  return err.rfind("error: ", 0) == 0 && err.back() == '\n' && err.find('\n') == err.size() - 1;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return s.replace(at, from.size(), to);
}

// A plan of Llama 3 8B on 16 H100s, written by `plan --out`.
std::string write_plan(const ScratchDir& dir) {
  const std::string out = dir.file("plan.json");
  CliResult r = run_cli(
      "plan --model '" + source_path("models/llama3-8b.json") +
          "' --cluster dgx-h100 --gpus 16 --global-batch 64 --pp 1,2 --top 2 --threads 2 --out '" +
          out + "'",
      dir);
  REQUIRE(r.status == 0);
  REQUIRE(std::filesystem::exists(out));
  return out;
}
}  // namespace

TEST_CASE("cli plan --out and check: a valid plan whose prediction matches") {
  ScratchDir dir("cli_plan_check");
  const std::string plan = write_plan(dir);
  CHECK(has(slurp(plan), "\"format\": \"shardplan.plan/1\""));
  CliResult r = run_cli("check '" + plan + "'", dir);
  CHECK(r.status == 0);
  CHECK(has(r.out, "a valid shardplan.plan/1 plan"));
  CHECK(has(r.out, "matches the stored prediction"));
  r = run_cli("check --json '" + plan + "'", dir);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["valid"] == true);
  CHECK(j["matches"] == true);
  CHECK(j["estimate"]["step_time_s"].get<double>() > 0);
}

TEST_CASE("cli plan --out: the same bytes for any thread count") {
  ScratchDir dir("cli_plan_threads");
  std::string texts[2];
  for (int t = 1; t <= 2; ++t) {
    const std::string out = dir.file("plan" + std::to_string(t) + ".json");
    CliResult r =
        run_cli("plan --model '" + source_path("models/gpt-22b.json") +
                    "' --cluster dgx-a100 --gpus 64 --global-batch 64 --top 1 --threads " +
                    std::to_string(t) + " --out '" + out + "'",
                dir);
    REQUIRE(r.status == 0);
    texts[t - 1] = slurp(out);
  }
  CHECK(!texts[0].empty());
  CHECK(texts[0] == texts[1]);
}

TEST_CASE("cli check: a changed prediction exits 1, a broken plan 2") {
  ScratchDir dir("cli_plan_broken");
  const std::string text = slurp(write_plan(dir));
  const std::string stale =
      dir.write("stale.json", replace(text, "\"step_time_s\": ", "\"step_time_s\": 1"));
  CliResult r = run_cli("check '" + stale + "'", dir);
  CHECK(r.status == 1);
  CHECK(has(r.out, "/prediction/step_time_s: stored 1"));
  const std::string broken =
      dir.write("broken.json", replace(text, "\"gpus\": 16", "\"gpus\": 12"));
  r = run_cli("check '" + broken + "'", dir);
  CHECK(r.status == 2);
  CHECK(one_error_line(r.err));
  CHECK(has(r.err, broken + ": at /gpus: expected dp*tp*pp*cp = 16"));
  r = run_cli("check '" + dir.file("missing.json") + "'", dir);
  CHECK(r.status == 2);
  CHECK(one_error_line(r.err));
}

TEST_CASE("cli check and emit: a prediction with an unknown key or a negative time exits 2") {
  ScratchDir dir("cli_plan_prediction");
  const std::string text = slurp(write_plan(dir));
  // Was: check listed /prediction/bogus as a difference (exit 1).
  const std::string bogus = dir.write(
      "bogus.json", replace(text, "\"step_time_s\": ", "\"bogus\": 1,\n  \"step_time_s\": "));
  CliResult r = run_cli("check '" + bogus + "'", dir);
  CHECK(r.status == 2);
  CHECK(one_error_line(r.err));
  CHECK(has(r.err, bogus + ": at /prediction/bogus: unknown field \"bogus\""));
  // Was: emit wrote "# predicted: -1.000 s/step".
  const std::string negative =
      dir.write("negative.json", replace(text, "\"step_time_s\": ", "\"step_time_s\": -1"));
  r = run_cli("emit --format megatron '" + negative + "'", dir);
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(one_error_line(r.err));
  CHECK(has(r.err, negative + ": at /prediction/step_time_s: expected a positive number"));
  const std::string unnamed =
      dir.write("unnamed.json", replace(text, "\"name\": \"llama3-8b\"", "\"name\": \"\""));
  r = run_cli("emit --format megatron '" + unnamed + "'", dir);
  CHECK(r.status == 2);
  CHECK(one_error_line(r.err));
  CHECK(has(r.err, unnamed + ": at /model/name: expected a non-empty model name"));
}

TEST_CASE("cli emit: the three formats, to stdout or a file") {
  ScratchDir dir("cli_plan_emit");
  const std::string plan = write_plan(dir);
  CliResult r = run_cli("emit --format megatron '" + plan + "'", dir);
  REQUIRE(r.status == 0);
  CHECK(r.out.rfind("#!/usr/bin/env bash\n# Megatron-LM core_v0.15.0", 0) == 0);
  CHECK(has(r.out, "--num-layers 32"));
  CHECK(has(r.out, "torchrun --nnodes 2 --nproc-per-node 8"));
  r = run_cli("emit --format megatron -o '" + dir.file("m.sh") + "' '" + plan + "'", dir);
  CHECK(r.status == 0);
  CHECK(r.out.empty());
  CHECK(slurp(dir.file("m.sh")).rfind("#!/usr/bin/env bash", 0) == 0);
  r = run_cli("emit --format megatron --config-only '" + plan + "'", dir);
  CHECK(r.status == 2);
  CHECK(one_error_line(r.err));
  r = run_cli("emit --format vllm '" + plan + "'", dir);
  CHECK(r.status == 2);
}

TEST_CASE("cli report: a self-contained HTML file from a search or a plan") {
  ScratchDir dir("cli_plan_report");
  const std::string html = dir.file("report.html");
  CliResult r =
      run_cli("report --model '" + source_path("models/tiny-dense.json") +
                  "' --cluster dgx-h100 --gpus 8 --global-batch 16 --threads 2 -o '" + html + "'",
              dir);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "report written to"));
  const std::string page = slurp(html);
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(has(page, "Pareto front"));
  CHECK(has(page, "Simulated pipeline timeline"));
  CHECK(!has(page, "<script"));
  CHECK(!has(page, "src="));
  CHECK(!has(page, "href="));
  CHECK(!std::filesystem::exists(html + ".tmp"));
  const std::string plan = write_plan(dir);
  r = run_cli("report --plan '" + plan + "' --threads 2 -o '" + html + "'", dir);
  CHECK(r.status == 0);
  r = run_cli("report --plan '" + plan + "' --model tiny-dense -o '" + html + "'", dir);
  CHECK(r.status == 2);
  CHECK(one_error_line(r.err));
  // What the plan file fixes is not taken from flags as well (they were ignored before).
  for (const char* flag : {"--cluster dgx-a100", "--seq-len 1024", "--precision fp32", "--no-flash-attention"}) {
    CAPTURE(flag);
    r = run_cli("report --plan '" + plan + "' " + flag + " -o '" + html + "'", dir);
    CHECK(r.status == 2);
    CHECK(has(r.err, "cannot be combined with --plan"));
  }
  r = run_cli("report -o '" + html + "'", dir);
  CHECK(r.status == 2);
  CHECK(has(r.err, "--plan"));
}

namespace {
// The lines of an emitter's stderr but its notes on RoPE (which the framework may not express).
std::string without_rope_notes(const std::string& err) {
  std::string out, line;
  std::istringstream in(err);
  while (std::getline(in, line))
    if (!has(line, "RoPE")) out += line + "\n";
  return out;
}
}  // namespace

TEST_CASE("cli plan --framework: only what the framework runs, and its emitter takes the best") {
  ScratchDir dir("cli_plan_framework");
  const std::string model = source_path("models/llama3-8b.json");
  for (const char* fw : {"megatron", "deepspeed", "torchtitan"}) {
    CAPTURE(fw);
    const std::string out = dir.file(std::string(fw) + ".plan.json");
    CliResult r = run_cli("plan --model '" + model +
                              "' --cluster dgx-h100 --gpus 16 --global-batch 64 --top 10 --threads 2 "
                              "--json --framework " + fw + " --out '" + out + "'",
                          dir);
    REQUIRE(r.status == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["search"]["framework"] == fw);
    CHECK(j["search"]["rejected"]["framework"].get<int64_t>() > 0);
    REQUIRE(!j["plans"].empty());
    for (const auto& p : j["plans"]) {
      const std::string rc = p["strategy"]["recompute"];
      // torchtitan's selective mode is op-level checkpointing; the others have no op-level mode.
      CHECK(rc != (std::string(fw) == "torchtitan" ? "selective" : "op"));
      if (std::string(fw) != "torchtitan" && p["strategy"]["pp"].get<int>() > 1)
        CHECK(p["strategy"]["zero"].get<int>() < 2);  // neither runs ZeRO-2/3 with pipelining
    }
    // The best plan drops into the framework: its emitter accepts it, with no note that the
    // framework runs it otherwise than priced (Megatron-DeepSpeed's missing RoPE scaling, noted,
    // changes the model's positions, not the timing).
    CliResult e = run_cli("emit --format " + std::string(fw) + " '" + out + "' -o '" +
                              dir.file(std::string(fw) + ".out") + "'",
                          dir);
    CHECK_MESSAGE(e.status == 0, e.err);
    CHECK_MESSAGE(!has(without_rope_notes(e.err), "note:"), e.err);
  }
  // DeepSpeed splits layers evenly: on 32 GPUs with pp 4 the estimator would re-cut Llama 3 8B's
  // 32 layers 8,9,9,6 for memory; --framework deepspeed keeps only even cuts.
  const std::string ds = dir.file("ds-pp4.plan.json");
  CliResult r = run_cli("plan --model '" + model + "' --cluster dgx-h100 --gpus 32 --global-batch 128 --pp 4 "
                        "--framework deepspeed --out '" + ds + "'", dir);
  REQUIRE(r.status == 0);
  CliResult e = run_cli("emit --format deepspeed '" + ds + "' -o '" + dir.file("ds-pp4.out") + "'", dir);
  CHECK_MESSAGE(e.status == 0, e.err);
  CHECK_MESSAGE(!has(without_rope_notes(e.err), "note:"), e.err);
  // An explicit op graph maps onto no framework's model: exit 2, one line.
  CliResult g = run_cli("plan --model '" + source_path("models/examples/vision-decoder.graph.json") +
                            "' --cluster dgx-h100 --gpus 8 --global-batch 8 --framework megatron",
                        dir);
  CHECK(g.status == 2);
  CHECK(one_error_line(g.err));
  CHECK(has(g.err, "explicit op graph"));
  CliResult bad = run_cli("plan --model '" + model +
                              "' --cluster dgx-h100 --gpus 8 --global-batch 8 --framework jax",
                          dir);
  CHECK(bad.status == 2);
  CliResult unfused = run_cli("plan --model '" + model +
                                  "' --cluster dgx-h100 --gpus 8 --global-batch 8 --framework "
                                  "torchtitan --no-flash-attention",
                              dir);
  CHECK(unfused.status == 2);
  CHECK(has(unfused.err, "fused SDPA"));
}

TEST_CASE("cli plan: search flags that cannot search exit 2 with one line saying why") {
  ScratchDir dir("cli_plan_bad_search");
  const std::string base = "plan --model gpt3-175b --cluster dgx-a100 --gpus 64 --global-batch 64 ";
  struct Case {
    std::string flags, says;
  };
  for (const Case& c : std::vector<Case>{
           {"--tp 5", "nothing to search: tp=5: does not divide the 64 GPUs"},
           {"--tp 0", "--tp 0: expected a comma-separated list of positive integers"},
           {"--micro-batch 0", "--micro-batch 0: expected a comma-separated list of positive integers"},
           {"--tp 4,,8", "--tp 4,,8: empty item in the comma-separated list"},
           {"--zero 1,", "--zero 1,: empty item in the comma-separated list"},
           {"--memory-headroom nan", "--memory-headroom: expected a fraction in [0, 0.9]"},
           {"--ep 2", "nothing to search: ep=2: the model has no experts"},
           {"--framework megatron --zero3-impl deepspeed",
            "--framework megatron: its ZeRO-3 gathers a layer at a time (FSDP); drop --zero3-impl deepspeed"},
           {"--framework deepspeed --zero3-impl deepspeed-2021",
            "--framework deepspeed: plans for today's DeepSpeed, whose ZeRO-3 is --zero3-impl deepspeed"},
           // Flags that would change nothing (estimate refuses the same combinations).
           {"--fp8-param-gather", "--fp8-param-gather needs --precision fp8"},
           {"--zero3-impl deepspeed --zero 1", "--zero3-impl deepspeed says how ZeRO-3 gathers, but --zero leaves stage 3 out"},
       }) {
    CAPTURE(c.flags);
    CliResult r = run_cli(base + c.flags, dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(has(r.err, c.says));
  }
  // A time limit below zero is refused without printing DBL_MAX.
  CliResult r = run_cli(base + "--time-limit -1", dir);
  CHECK(r.status == 2);
  CHECK(r.err.size() < 200);
}

TEST_CASE("cli plan: a listed value that cannot run is named, the rest is searched") {
  ScratchDir dir("cli_plan_not_searched");
  CliResult r = run_cli("plan --model gpt3-175b --cluster dgx-a100 --gpus 64 --global-batch 64 --tp 4,5,8 --pp 8 "
                        "--recompute full --top 2 --json",
                        dir);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["plans"].size() == 2);
  CHECK(j["search"]["not_searched"] == nlohmann::json::array({"tp=5: does not divide the 64 GPUs"}));
  CHECK(j["search"]["wall_s"].get<double>() >= j["search"]["search_wall_s"].get<double>());
}

TEST_CASE("cli plan: when nothing fits, the advice is a plan found for the changed problem") {
  ScratchDir dir("cli_plan_nothing_fits");
  CliResult r = run_cli("plan --model gpt3-175b --cluster dgx-a100 --gpus 8 --global-batch 8 --json", dir);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["plans"].empty());
  const auto& nf = j["nothing_fits"];
  CHECK(nf["closest"]["fits"] == false);
  REQUIRE(nf["suggestions"].size() >= 1);
  const auto& more = nf["suggestions"][0];
  CHECK(more["change"].get<std::string>().rfind("--gpus ", 0) == 0);
  CHECK(more["plan"]["fits"] == true);
  // The suggested GPU count, planned as such, finds that plan.
  const std::string gpus = std::to_string(more["gpus"].get<int64_t>());
  CliResult again = run_cli("plan --model gpt3-175b --cluster dgx-a100 --gpus " + gpus + " --global-batch 8 --top 1 --json", dir);
  REQUIRE(again.status == 0);
  CHECK(nlohmann::json::parse(again.out)["plans"].size() == 1);
  // --out with nothing to write: the advice on stderr, then the error, exit 2.
  r = run_cli("plan --model gpt3-175b --cluster dgx-a100 --gpus 8 --global-batch 8 --out '" + dir.file("p.json") + "'", dir);
  CHECK(r.status == 2);
  CHECK(has(r.err, "what fits instead"));
  CHECK(has(r.err, "error: no feasible plan to write"));
}

TEST_CASE("cli: list and emit take --json; real-valued flags refuse NaN and out-of-range values") {
  ScratchDir dir("cli_json_and_nan");
  CliResult r = run_cli("list models --json", dir);
  REQUIRE(r.status == 0);
  auto names = nlohmann::json::parse(r.out);
  CHECK(std::find(names.begin(), names.end(), "llama3-8b") != names.end());
  const std::string plan = write_plan(dir);
  r = run_cli("emit --format megatron --json '" + plan + "'", dir);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["format"] == "megatron");
  CHECK(has(j["text"].get<std::string>(), "pretrain_gpt.py"));
  CHECK(j["notes"].is_array());
  for (const std::string& bad : std::vector<std::string>{"check '" + plan + "' --tolerance nan", "calibrate --backend cpu --seconds-per-point nan",
                                 "inspect llama3-8b --seq-len 2000000000",
                                 "plan --model llama3-8b --cluster dgx-h100 --gpus 8 --global-batch 8 --time-limit -1"}) {
    CAPTURE(bad);
    r = run_cli(bad, dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
  }
}

TEST_CASE("cli simulate: the analytic breakdown is shown against the analytic step; idle time is the simulator's") {
  ScratchDir dir("cli_simulate_breakdown");
  // No pipeline: no bubble, whatever the simulated critical stage waits on (ZeRO-3 gathers here).
  CliResult r = run_cli("simulate --model llama3-8b --cluster dgx-h100 --gpus 64 --global-batch 64 --cp 8 --zero 3 --json", dir);
  REQUIRE(r.status == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["bubble_fraction"] == 0.0);
  CHECK(j["simulation"]["idle_fraction"].get<double>() > 0);
  double sum = 0;
  for (const auto& [k, v] : j["breakdown"].items()) sum += v.get<double>();
  CHECK(sum == shardplan::testing::rel(j["simulation"]["analytic_step_time_s"].get<double>()).epsilon(1e-9));
}

TEST_CASE("cli report: a value that cannot run is named, as plan names it") {
  ScratchDir dir("cli_report_not_searched");
  CliResult r = run_cli("report --model gpt3-175b --cluster dgx-a100 --gpus 64 --global-batch 64 --tp 5 -o '" +
                            dir.file("r.html") + "'",
                        dir);
  CHECK(r.status == 2);
  CHECK(one_error_line(r.err));
  CHECK(has(r.err, "not searched: tp=5: does not divide the 64 GPUs"));
}

TEST_CASE("cli check --json: an invalid plan answers valid: false with the error, and exits 2") {
  ScratchDir dir("cli_check_json_invalid");
  const std::string bad = dir.write("bad.plan.json", "{\"format\": 1}");
  CliResult r = run_cli("check --json '" + bad + "'", dir);
  CHECK(r.status == 2);
  CHECK(one_error_line(r.err));
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["valid"] == false);
  CHECK(has(j["error"].get<std::string>(), "at /format: expected a string"));
}

TEST_CASE("cli compare: each column names its precision; a malformed strategy string exits 2") {
  ScratchDir dir("cli_compare");
  const std::string base = "compare --model llama3-8b --cluster dgx-h100 --gpus 8 --global-batch 16 ";
  CliResult r = run_cli(base + "--strategy tp=8,sp --strategy tp=8,sp,precision=fp8", dir);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "[1] dp=1,tp=8,pp=1,sp,zero=0,recompute=none,mbs=1,schedule=1f1b,precision=bf16"));
  CHECK(has(r.out, "precision=fp8"));
  for (const char* bad : {"tp=8,,sp", "tp=8,tp=4", "tp=8,"}) {
    CAPTURE(bad);
    r = run_cli(base + "--strategy '" + bad + "'", dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
  }
}

TEST_CASE("cli plan --framework: a model the framework cannot build says which part, not just 'no strategy'") {
  ScratchDir dir("cli_plan_framework_model");
  CliResult r = run_cli("plan --model '" + source_path("models/gemma2-9b.json") +
                            "' --cluster dgx-h100 --gpus 16 --global-batch 64 --threads 2 --framework megatron",
                        dir);
  CHECK(r.status == 0);  // as for any search that finds nothing: the advice is the answer
  CHECK(has(r.out, "megatron cannot run this model: no GELU-gated FFN (GeGLU) in Megatron-LM's arguments"));
  CHECK(has(r.out, "megatron cannot run this model: no logit softcapping"));
  // A model it runs gets no such line even when nothing fits.
  CliResult fits = run_cli("plan --model '" + source_path("models/llama3-70b.json") +
                               "' --cluster dgx-h100 --gpus 1 --global-batch 8 --threads 2 --framework megatron",
                           dir);
  CHECK_FALSE(has(fits.out, "cannot run this model"));
}

TEST_CASE("cli report --plan: the plan as written, its own pipeline cut included") {
  // Llama 3 8B on 16 H100s with pp 2: the search cuts 18 | 16 blocks for memory, not the even
  // 17 | 17 the estimate of the bare strategy would take.
  ScratchDir dir("cli_report_cut");
  const std::string plan = dir.file("p.json"), html = dir.file("r.html");
  REQUIRE(run_cli("plan --model '" + source_path("models/llama3-8b.json") +
                      "' --cluster dgx-h100 --gpus 16 --global-batch 256 --pp 2 --vp 1 --top 1 --threads 2 --out '" +
                      plan + "'",
                  dir).status == 0);
  const auto p = nlohmann::json::parse(slurp(plan));
  const std::vector<int64_t> bounds = p["partition"]["chunk_bounds"];
  REQUIRE(bounds.size() == 3);
  CliResult r = run_cli("report --plan '" + plan + "' --threads 2 -o '" + html + "'", dir);
  REQUIRE(r.status == 0);
  const std::string page = slurp(html);
  // The stage names and the estimated step time shown are the plan file's.
  const std::string stage0 = bounds[1] - 1 == 1 ? "embedding..layer0" : "embedding..layer" + std::to_string(bounds[1] - 2);
  CHECK_MESSAGE(has(page, stage0), stage0);
  char step[32];
  std::snprintf(step, sizeof step, "%.3f s", p["prediction"]["step_time_s"].get<double>());
  CHECK_MESSAGE(has(page, step), step);
}

TEST_CASE("cli emit: a plan whose strategy the cost model rejects is no launch config either") {
  // tp 3 on Llama 3 8B (32 heads do not split 3 ways), every derived section consistent with it:
  // check and emit both refuse it, with the reason.
  ScratchDir dir("cli_emit_invalid");
  shardplan::Strategy s;
  s.tp = 3, s.micro_batch = 1, s.global_batch = 4;
  const std::string bad =
      dir.write("bad.json", shardplan::plan_to_text(shardplan_test::fixed_plan("llama3-8b", "dgx-h100", 3, s)));
  for (const char* cmd : {"check", "emit --format megatron", "emit --format torchtitan"}) {
    CAPTURE(cmd);
    CliResult r = run_cli(std::string(cmd) + " '" + bad + "'", dir);
    CHECK(r.status == 2);
    CHECK(has(r.err, "expected a strategy the cost model accepts"));
  }
}

TEST_CASE("cli check: a plan written before the chunk lists named virtual stages still matches") {
  // Its prediction's per-stage chunk lists lack "virtual" and number the chunks by virtual stage;
  // they restate the partition, which reading the plan checks, so check compares the numbers.
  ScratchDir dir("cli_check_old_chunks");
  const std::string plan = write_plan(dir);
  nlohmann::json j = nlohmann::json::parse(slurp(plan));
  for (auto& st : j["prediction"]["memory"]["per_stage"])
    for (auto& c : st["chunks"]) c.erase("virtual"), c["chunk"] = 0;
  const std::string old = dir.write("old.json", j.dump(1));
  CliResult r = run_cli("check '" + old + "'", dir);
  CHECK_MESSAGE(r.status == 0, r.err);
}

TEST_CASE("cli plan: a search the time limit ended with nothing found says so, not that nothing fits") {
  // DeepSeek-V3 fits on 192 H100s (a full search finds dp 8, tp 4, pp 6, ep 32); a search cut
  // after its first strategies has found nothing yet, and used to advise more GPUs.
  ScratchDir dir("cli_plan_time_limit");
  CliResult r = run_cli("plan --model deepseek-v3 --cluster dgx-h100 --gpus 192 --global-batch 1024 --threads 1 "
                        "--top 1 --time-limit 0.000001",
                        dir);
  CHECK(r.status == 0);
  CHECK(has(r.out, "the time limit (1e-06 s) ended the search"));
  CHECK_FALSE(has(r.out, "what fits instead"));
  CHECK_FALSE(has(r.out, "no strategy fits"));
}

TEST_CASE("cli plan: the best plan does not depend on --top (the simulator re-ranks the same pool)") {
  // GPT 22B on 16 H100s, batch 64: the simulator prefers the estimate's second-best strategy. The
  // search used to keep only --top candidates, so --top 1 printed the estimate's best and --top 10
  // the simulator's.
  ScratchDir dir("cli_plan_top_pool");
  const std::string base = "plan --model '" + source_path("models/gpt-22b.json") +
                           "' --cluster dgx-h100 --gpus 16 --global-batch 64 --threads 2 --json --top ";
  CliResult one = run_cli(base + "1", dir), ten = run_cli(base + "10", dir);
  REQUIRE(one.status == 0);
  REQUIRE(ten.status == 0);
  const auto j1 = nlohmann::json::parse(one.out), j10 = nlohmann::json::parse(ten.out);
  REQUIRE(j1["plans"].size() == 1);
  REQUIRE(j10["plans"].size() == 10);
  // The case is one where the orders differ: the estimate's fastest is not first.
  double fastest = 1e300;
  for (const auto& p : j10["plans"]) fastest = std::min(fastest, p["step_time_s"].get<double>());
  REQUIRE(j10["plans"][0]["step_time_s"].get<double>() > fastest);
  CHECK(j1["plans"][0]["strategy"] == j10["plans"][0]["strategy"]);
  CHECK(j1["plans"][0]["simulated_step_time_s"] == j10["plans"][0]["simulated_step_time_s"]);
}
