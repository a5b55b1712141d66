// End to end through the built binary: `estimate --json` keeps its contract, impossible strategies
// and bad inputs exit with status 2 and one actionable line on stderr (file, JSON path, did you
// mean).
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "cli_run.hpp"

using shardplan_test::CliResult;
using shardplan_test::run_cli;
using shardplan_test::ScratchDir;
using shardplan_test::source_path;

namespace {
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Exactly one line, newline-terminated, starting with "error: ".
bool one_error_line(const std::string& err) {
  return err.rfind("error: ", 0) == 0 && !err.empty() && err.back() == '\n' &&
         err.find('\n') == err.size() - 1;
}

// Korthikanti Table 3's 22B row: 8 A100s, tp = 8, SP, selective recompute, global batch 4.
std::string gpt22b(const std::string& extra) {
  return "estimate --model '" + source_path("models/gpt-22b.json") + "' --cluster dgx-a100 " +
         extra;
}
}  // namespace

TEST_CASE("cli estimate: --json on gpt-22b has every contract key") {
  ScratchDir dir("cli_estimate_json");
  CliResult r =
      run_cli(gpt22b("--gpus 8 --tp 8 --sp --recompute selective --global-batch 4 --json"), dir);
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  nlohmann::json j = nlohmann::json::parse(r.out);  // throws (test error) if not valid JSON
  for (const char* k : {"step_time_s", "tokens_per_s", "model_tflops_per_gpu",
                        "hardware_tflops_per_gpu", "mfu", "hfu", "peak_memory_bytes"}) {
    CAPTURE(k);
    REQUIRE(j.contains(k));
    CHECK(j[k].is_number());
    CHECK(j[k].get<double>() > 0);
  }
  REQUIRE(j.contains("fits"));
  CHECK(j["fits"].is_boolean());
  REQUIRE(j.contains("memory"));
  REQUIRE(j["memory"].contains("per_stage"));
  const auto& stages = j["memory"]["per_stage"];
  REQUIRE(stages.is_array());
  REQUIRE(stages.size() == 1);  // pp = 1
  for (const char* k :
       {"params_bytes", "grads_bytes", "optimizer_bytes", "activations_bytes", "buffers_bytes",
        "runtime_bytes", "total_bytes", "inflight_micro_batches"}) {
    CAPTURE(k);
    REQUIRE(stages[0].contains(k));
    CHECK(stages[0][k].is_number());
  }
  REQUIRE(j.contains("breakdown"));
  const auto& b = j["breakdown"];
  double sum = 0;
  for (const char* k : {"compute_s", "recompute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s",
                        "pp_comm_s", "pp_bubble_s", "dp_comm_s", "optimizer_s"}) {
    CAPTURE(k);
    REQUIRE(b.contains(k));
    CHECK(b[k].is_number());
    CHECK(b[k].get<double>() >= 0);
    sum += b[k].get<double>();
  }
  // With ZeRO 0 and one stage the step is exactly its parts (pipeline.cpp: m t + bubble + p2p +
  // DP/optimizer tail; compute + recompute + exposed comm make m t).
  const double step = j["step_time_s"].get<double>();
  CHECK(sum == shardplan::testing::rel(step).epsilon(1e-9));
  // tokens/s = global batch * seq_len / step = 4 * 2048 / step.
  CHECK(j["tokens_per_s"].get<double>() == shardplan::testing::rel(4 * 2048 / step).epsilon(1e-9));
  // MFU = model TFLOP/s per GPU / peak (A100 bf16: 312 TFLOP/s); selective recompute: HFU > MFU.
  CHECK(j["mfu"].get<double>() ==
        shardplan::testing::rel(j["model_tflops_per_gpu"].get<double>() / 312).epsilon(1e-9));
  CHECK(j["hfu"].get<double>() > j["mfu"].get<double>());
  // Model states of one GPU of 8-way TP on 22B parameters: 18 B * ~22.07e9 / 8 ~ 49.7 GB, the
  // layer norms being replicated add a little: between 49 and 51 GB.
  const double states = stages[0]["params_bytes"].get<double>() +
                        stages[0]["grads_bytes"].get<double>() +
                        stages[0]["optimizer_bytes"].get<double>();
  CHECK(states > 49e9);
  CHECK(states < 51e9);
  // peak_memory_bytes is the largest stage total.
  CHECK(j["peak_memory_bytes"].get<double>() ==
        shardplan::testing::rel(stages[0]["total_bytes"].get<double>()));
}

TEST_CASE("cli estimate: impossible strategies exit 2 with a one-line reason") {
  ScratchDir dir("cli_estimate_bad");
  SUBCASE("heads not divisible by tp") {
    // 5 GPUs (one partial node), tp = 5: gpt-22b has 64 heads.
    CliResult r = run_cli(gpt22b("--gpus 5 --tp 5 --global-batch 5"), dir);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(one_error_line(r.err));
    CHECK(contains(r.err, "heads"));
    CHECK(contains(r.err, "tp = 5"));
  }
  SUBCASE("--dp does not match GPUs / (tp*pp*cp)") {
    CliResult r = run_cli(gpt22b("--gpus 8 --tp 8 --dp 2 --global-batch 8"), dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(contains(r.err, "--dp 2"));
  }
  SUBCASE("global batch not divisible by dp * micro-batch") {
    // tp = 2 on 8 GPUs: dp = 4; 6 % 4 != 0.
    CliResult r = run_cli(gpt22b("--gpus 8 --tp 2 --global-batch 6"), dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(contains(r.err, "batch"));
  }
  SUBCASE("unknown recompute mode: the four names are listed") {
    CliResult r = run_cli(gpt22b("--gpus 8 --tp 8 --global-batch 8 --recompute ops"), dir);
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--recompute"));
    CHECK(contains(r.err, "op"));
    CliResult ok = run_cli(gpt22b("--gpus 8 --tp 8 --sp --global-batch 8 --recompute op --json"), dir);
    CHECK(ok.status == 0);
    CHECK(contains(ok.out, "\"recompute\": \"op\""));
  }
  SUBCASE("gradients reduced in a type the training does not have") {
    CliResult r = run_cli(gpt22b("--gpus 8 --tp 8 --global-batch 8 --grad-reduce-dtype fp16"), dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(contains(r.err, "--grad-reduce-dtype fp16: gradients reduced in fp16 need fp16 training"));
    CliResult ok = run_cli(gpt22b("--gpus 8 --tp 8 --global-batch 8 --grad-reduce-dtype bf16 --json"), dir);
    CHECK(ok.status == 0);
    CHECK(contains(ok.out, "\"grad_reduce\": \"bf16\""));
  }
  SUBCASE("FP8 weight gathers without FP8 training") {
    CliResult r = run_cli(gpt22b("--gpus 8 --tp 8 --global-batch 8 --zero 1 --fp8-param-gather"), dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(contains(r.err, "--fp8-param-gather needs --precision fp8"));
  }
  SUBCASE("a ZeRO-3 implementation without ZeRO-3, and an unknown one") {
    CliResult r = run_cli(gpt22b("--gpus 8 --tp 8 --global-batch 8 --zero 1 --zero3-impl deepspeed"), dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(contains(r.err, "zero3_impl deepspeed needs ZeRO-3 (--zero 3)"));
    CliResult bad = run_cli(gpt22b("--gpus 8 --tp 8 --global-batch 8 --zero 3 --zero3-impl megatron"), dir);
    CHECK(bad.status == 2);
    CHECK(contains(bad.err, "--zero3-impl"));
    CliResult ok = run_cli(gpt22b("--gpus 16 --tp 8 --global-batch 16 --zero 3 --zero3-impl deepspeed-2021 --json"), dir);
    CHECK(ok.status == 0);
    CHECK(contains(ok.out, "\"zero3_impl\": \"deepspeed-2021\""));
  }
  SUBCASE("tp does not divide the GPU count") {
    CliResult r = run_cli(gpt22b("--gpus 8 --tp 3 --global-batch 8"), dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
  }
}

TEST_CASE("cli estimate: bad model files exit 2 naming the file and the JSON path") {
  ScratchDir dir("cli_bad_models");
  struct Case {
    const char* name;
    const char* file;
    const char* text;
    const char* expect;  // in the message besides the file name
  };
  const Case cases[] = {
      {"malformed JSON", "malformed.json", R"({"name": "x", "layers": })",
       "malformed JSON at byte"},
      {"unknown field", "unknown.json",
       R"({"name":"x","layers":2,"hidden":64,"heads":4,"vocab":128,"seq_len":32,"hiden":5})",
       "at /hiden: unknown field \"hiden\" (did you mean \"hidden\"?)"},
      {"kv_heads not dividing heads", "kv.json",
       R"({"name":"x","layers":2,"hidden":64,"heads":4,"kv_heads":3,"vocab":128,"seq_len":32})",
       "at /kv_heads"},
      {"duplicate key", "duplicate.json",
       R"({"name":"x","layers":4,"hidden":64,"heads":4,"vocab":128,"seq_len":32,"layers":8})",
       "at /: duplicate key \"layers\""},
      {"unknown HF model_type", "hf.json", R"({"model_type":"bert","hidden_size":64})",
       "at /model_type"},
      {"cyclic op graph", "cycle.json",
       R"({"name":"g","seq_len":16,"hidden":8,"ops":[)"
       R"({"name":"a","kind":"norm","dims":[8],"inputs":["b"],"block":"x"},)"
       R"({"name":"b","kind":"norm","dims":[8],"inputs":["a"],"block":"x"}]})",
       "at /ops: expected an acyclic graph"},
      {"dangling input", "dangling.json",
       R"({"name":"g","seq_len":16,"hidden":8,"ops":[)"
       R"({"name":"a","kind":"norm","dims":[8],"block":"x"},)"
       R"({"name":"b","kind":"norm","dims":[8],"inputs":["aa"],"block":"x"}]})",
       "at /ops/1/inputs/0: dangling input"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string path = dir.write(c.file, c.text);
    for (const std::string& cmd :
         {"estimate --model '" + path + "' --cluster dgx-a100 --gpus 8 --global-batch 8",
          "inspect '" + path + "' --json"}) {
      CAPTURE(cmd);
      CliResult r = run_cli(cmd, dir);
      CHECK(r.status == 2);
      CHECK(r.out.empty());
      CHECK(one_error_line(r.err));
      CHECK(contains(r.err, path));
      CHECK(contains(r.err, c.expect));
    }
  }
}

TEST_CASE("cli estimate: a directory as the model file says it is a directory") {
  ScratchDir dir("cli_model_dir");
  const std::string models = source_path("models");
  CliResult r = run_cli(
      "estimate --model '" + models + "' --cluster dgx-a100 --gpus 8 --global-batch 8", dir);
  CHECK(r.status == 2);
  CHECK(one_error_line(r.err));
  CHECK(contains(r.err, models + ": at /: is a directory: expected a JSON file"));
}

TEST_CASE("cli estimate: unknown names exit 2 with did you mean") {
  ScratchDir dir("cli_names");
  SUBCASE("cluster") {
    CliResult r =
        run_cli("estimate --model gpt-22b --cluster dgx-a10 --gpus 8 --global-batch 8", dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(contains(r.err, "unknown cluster \"dgx-a10\""));
    CHECK(contains(r.err, "did you mean \"dgx-a100\"?"));
  }
  SUBCASE("GPU named by a cluster file") {
    const std::string path = dir.write(
        "cluster.json",
        R"({"name":"c","gpu":"a100-80","gpus_per_node":8,"network":[{"name":"nv","gpus":8,"bandwidth_GBps":300}]})");
    CliResult r = run_cli(
        "estimate --model tiny-dense --cluster '" + path + "' --gpus 8 --global-batch 8", dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(contains(r.err, path));
    CHECK(contains(r.err, "at /gpu"));
    CHECK(contains(r.err, "did you mean \"a100-80g\"?"));
  }
  SUBCASE("zoo model") {
    CliResult r =
        run_cli("estimate --model gpt3-175 --cluster dgx-a100 --gpus 8 --global-batch 8", dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(contains(r.err, "did you mean \"gpt3-175b\"?"));
  }
}

TEST_CASE("cli estimate: sizes whose product overflows 64 bits exit 2, not a crash") {
  ScratchDir dir("cli_estimate_overflow");
  for (const char* cmd : {"estimate", "simulate"}) {
    CliResult r = run_cli(std::string(cmd) + " --model llama3-8b --cluster dgx-h100 --gpus 8 --global-batch 16 "
                                             "--tp 1073741824 --pp 1073741824 --cp 16",
                          dir);
    CHECK(r.status == 2);
    CHECK(r.err.find("tp = 1073741824 must be between 1 and the 8 GPUs") != std::string::npos);
  }
}

TEST_CASE("cli estimate: the summary says how much the slowest GPU costs") {
  // 1024 A100s (clock_variation 0.012): 1 + 0.012 x Phi^-1(1023.625 / 1024.25) = 1 + 0.012 x
  // 3.2341 = 1.0388 -> "x1.039"; one GPU waits for nobody, and the line is left out.
  ScratchDir dir("cli_estimate_slowest");
  CliResult big = run_cli("estimate --model gpt3-175b --cluster dgx-a100 --gpus 1024 --global-batch 1536 --tp 8 --pp 16", dir);
  REQUIRE(big.status == 0);
  CHECK(contains(big.out, "at the pace of the slowest of 1024 GPUs: x1.039, clock_variation 0.012"));
  CliResult one = run_cli(gpt22b("--gpus 1 --global-batch 1 --recompute full"), dir);
  REQUIRE(one.status == 0);
  CHECK_FALSE(contains(one.out, "slowest of"));
}

TEST_CASE("cli estimate --json: a stage's chunks are named as the plan file's partition names them") {
  // gpt-22b (48 layers) on pp 2 x vp 2: stage 0 holds chunks 0 and 2 of the model order, its
  // virtual stages 0 and 1 (the plan file's partition: "virtual" v, "chunk" v*pp + stage).
  ScratchDir dir("cli_estimate_chunks");
  CliResult r = run_cli(gpt22b("--gpus 16 --tp 8 --pp 2 --vp 2 --schedule interleaved --global-batch 16 --json"), dir);
  REQUIRE(r.status == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const auto& chunks = j["memory"]["per_stage"][0]["chunks"];
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[1]["virtual"] == 1);
  CHECK(chunks[1]["chunk"] == 2);
  CHECK(j["memory"]["per_stage"][1]["chunks"][1]["chunk"] == 3);
}
