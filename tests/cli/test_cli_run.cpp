// End to end through the built binary: `run` trains a plan on the CPU executor (from flags or a
// plan file) and reports losses, speed and per-rank memory; `calibrate` writes a cluster profile
// that estimate accepts; bad plans and files exit 2 with one line.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include <cmath>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_run.hpp"

using shardplan_test::CliResult;
using shardplan_test::run_cli;
using shardplan_test::ScratchDir;

namespace {
bool one_error_line(const std::string& err) {
  return err.rfind("error: ", 0) == 0 && !err.empty() && err.back() == '\n' &&
         err.find('\n') == err.size() - 1;
}

// A Llama-style tiny decoder (RMSNorm, SwiGLU, GQA): the executor's model without GPT extras.
const char* kTiny =
    R"({"name": "tiny-run", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "ffn_hidden": 128,
        "ffn_act": "swiglu", "norm": "rmsnorm", "vocab": 128, "seq_len": 16})";

std::string quoted(const std::string& path) { return "'" + path + "'"; }
}  // namespace

TEST_CASE("cli run: a TP plan from flags prints losses, speed and memory per rank") {
  ScratchDir dir("cli_run_flags");
  const std::string model = dir.write("tiny.json", kTiny);
  CliResult r = run_cli("run --model " + quoted(model) + " --gpus 2 --global-batch 4 --tp 2 --sp --steps 2 --json", dir);
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["backend"] == "cpu");
  CHECK(j["ranks"] == 2);
  REQUIRE(j["steps"].size() == 2);
  for (const auto& s : j["steps"]) {
    CHECK(std::isfinite(s["loss"].get<double>()));
    CHECK(s["time_s"].get<double>() > 0);
  }
  // The first loss is about ln(vocab) = ln 128 = 4.85 for GPT-2 initialisation.
  CHECK(j["steps"][0]["loss"].get<double>() == shardplan::testing::rel(4.85).epsilon(0.05));
  CHECK(j["tokens_per_s"].get<double>() > 0);
  REQUIRE(j["peak_memory_per_rank"].size() == 2);
  for (const auto& m : j["peak_memory_per_rank"])
    for (const char* k : {"weights_bytes", "gradients_bytes", "optimizer_states_bytes", "activations_bytes",
                          "temporaries_bytes", "peak_total_bytes"}) {
      CAPTURE(k);
      CHECK(m[k].get<double>() > 0);
    }
  // AdamW keeps m and v: twice the weights, on every rank.
  CHECK(j["peak_memory_per_rank"][0]["optimizer_states_bytes"].get<double>() ==
        2 * j["peak_memory_per_rank"][0]["weights_bytes"].get<double>());

  CliResult t = run_cli("run --model " + quoted(model) + " --gpus 1 --global-batch 4 --layers 1 --hidden 32 --steps 1", dir);
  REQUIRE(t.status == 0);
  CHECK(t.out.find("layers 1, hidden 32") != std::string::npos);
  CHECK(t.out.find("step time") != std::string::npos);
  CHECK(t.out.find("activations") != std::string::npos);
}

TEST_CASE("cli run: a plan file from `plan --out`, and a checkpoint that resumes") {
  ScratchDir dir("cli_run_plan");
  const std::string model = dir.write("tiny.json", kTiny);
  const std::string plan = dir.file("plan.json");
  REQUIRE(run_cli("plan --model " + quoted(model) + " --cluster dgx-a100 --gpus 2 --global-batch 8 --out " + quoted(plan),
                  dir).status == 0);
  CliResult r = run_cli("run " + quoted(plan) + " --steps 2 --json --checkpoint " + quoted(dir.file("ckpt")), dir);
  REQUIRE(r.status == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["ranks"] == 2);
  CliResult resumed = run_cli("run " + quoted(plan) + " --steps 3 --json --resume --checkpoint " + quoted(dir.file("ckpt")), dir);
  REQUIRE(resumed.status == 0);
  const nlohmann::json k = nlohmann::json::parse(resumed.out);
  REQUIRE(k["steps"].size() == 1);
  CHECK(k["steps"][0]["step"] == 3);
  // The plan fixes the strategy: strategy flags with it are a usage error.
  CliResult both = run_cli("run " + quoted(plan) + " --tp 2", dir);
  CHECK(both.status == 2);
  CHECK(one_error_line(both.err));
}

TEST_CASE("cli run: unsupported plans and bad files exit 2 with one line") {
  ScratchDir dir("cli_run_bad");
  const std::string model = dir.write("tiny.json", kTiny);
  const std::string base = "run --model " + quoted(model) + " --global-batch 4 --steps 1 ";
  for (const std::string& args :
       {base + "--gpus 2 --cp 2", base + "--gpus 2 --tp 4", base + "--gpus 1 --data " + quoted(dir.file("none.bin")),
        base + "--gpus 1 --data " + quoted(dir.write("bad.bin", "x")), base + "--gpus 3",
        "run " + quoted(dir.write("plan.json", "{\"format\": 1}")),
        "run --model " + quoted(dir.write("broken.json", "{")) + " --gpus 1 --global-batch 1",
        base + "--gpus 1 --hidden 30",
        // Flags that change only the prediction are refused, not ignored.
        base + "--gpus 2 --tp 2 --sp --tp-comm-overlap", base + "--gpus 1 --no-flash-attention",
        base + "--gpus 2 --no-overlap-grad-reduce", base + "--gpus 1 --precision bf16"}) {
    CAPTURE(args);
    CliResult r = run_cli(args, dir);
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
  }
}

TEST_CASE("cli run/calibrate --backend cuda: the GPU path, or one line saying why not") {
  // With a GPU `run --backend cuda` trains (executor_cuda_tests checks its losses against the
  // executor's); without one, or in a build without the CUDA executor, it says which, exit 2.
  ScratchDir dir("cli_run_cuda");
  const std::string model = dir.write("tiny.json", kTiny);
  const std::string base = "run --backend cuda --model " + quoted(model) + " --global-batch 4 --steps 2 ";
#ifdef SHARDPLAN_TEST_CUDA_PROGRAM
  const char* why_not = "no usable GPU";
  // Plans it cannot run are refused before any GPU is looked for.
  CliResult n = run_cli(base + "--gpus 2 --tp 2 --nproc-per-node 3", dir);
  CHECK(n.status == 2);
  CHECK(n.err.find("nproc (3) must be 1 (every rank on one GPU) or dp*tp*pp (2, one process per GPU)") !=
        std::string::npos);
  CliResult c = run_cli(base + "--gpus 2 --cp 2", dir);
  CHECK(c.status == 2);
  CHECK(c.err.find("not supported by the CUDA executor") != std::string::npos);
#else
  const char* why_not = "built without the CUDA executor";
#endif
  CliResult r = run_cli(base + "--gpus 2 --tp 2 --json", dir);
  if (r.status == 0) {
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["backend"] == "cuda");
    CHECK(j["steps"].size() == 2);
  } else {
    CHECK(r.status == 2);
    CHECK(one_error_line(r.err));
    CHECK(r.err.find(why_not) != std::string::npos);
  }
  CliResult cal = run_cli("calibrate --backend cuda --seconds-per-point 0.005 --out " + quoted(dir.file("g.json")), dir);
  if (cal.status != 0) {
    CHECK(cal.status == 2);
    CHECK(one_error_line(cal.err));
    CHECK(cal.err.find(why_not) != std::string::npos);
  }
  // Options of one backend given to the other, and math the GPU executor does not do.
  for (const std::string& args :
       {"run --model " + quoted(model) + " --global-batch 4 --gpus 1 --nproc-per-node 2",
        base + "--gpus 1 --precision fp8",
        std::string("calibrate --backend cuda --threads 2"), std::string("calibrate --backend cpu --gpu-preset h100-sxm")}) {
    CAPTURE(args);
    CliResult b = run_cli(args, dir);
    CHECK(b.status == 2);
    CHECK(one_error_line(b.err));
  }
}

#ifdef SHARDPLAN_TEST_CUDA_PROGRAM
TEST_CASE("cli run --backend cuda under a launcher: every rank ends with its reason, none hangs") {
  // Two ranks as torchrun (or mpirun -x MASTER_ADDR -x MASTER_PORT) starts them, on this host:
  // they meet at the rendezvous; without two GPUs each says why it cannot run, with two they train
  // and only rank 0 prints the report.
  ScratchDir dir("cli_run_launched");
  const std::string model = dir.write("tiny.json", kTiny);
  const int port = 20000 + int(::getpid() % 20000);
  std::string script = "cd " + quoted(dir.file("")) + " || exit 1\n";
  for (int r : {1, 0}) {
    const std::string rank = std::to_string(r);
    script += std::string(r == 1 ? "(" : "") + "RANK=" + rank + " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
              std::to_string(port) + " timeout 120 " + quoted(SHARDPLAN_BINARY) + " run --backend cuda --model " +
              quoted(model) + " --gpus 2 --tp 2 --global-batch 4 --steps 1 --json >out" + rank + " 2>err" + rank +
              "; echo $? >status" + rank + (r == 1 ? ") & " : "; wait");
  }
  const std::string file = dir.write("ranks.sh", script);
  REQUIRE(std::system(("bash " + file).c_str()) == 0);
  const std::string s0 = shardplan_test::slurp(dir.file("status0")), s1 = shardplan_test::slurp(dir.file("status1"));
  if (s0 == "0\n") {
    CHECK(s1 == "0\n");
    CHECK(nlohmann::json::parse(shardplan_test::slurp(dir.file("out0")))["backend"] == "cuda");
    CHECK(shardplan_test::slurp(dir.file("out1")).empty());
  } else {
    for (int r : {0, 1}) {
      CAPTURE(r);
      const std::string err = shardplan_test::slurp(dir.file("err" + std::to_string(r)));
      CHECK(shardplan_test::slurp(dir.file("status" + std::to_string(r))) == "2\n");
      CHECK(one_error_line(err));
      CHECK(err.rfind("error: rank ", 0) == 0);
    }
  }
}
#endif

TEST_CASE("cli calibrate: writes a cluster profile that estimate accepts") {
  ScratchDir dir("cli_calibrate");
  const std::string out = dir.file("cpu.json"), gpu = dir.file("cpu-gpu.json");
  CliResult r = run_cli("calibrate --backend cpu --seconds-per-point 0.005 --json --out " + quoted(out) +
                            " --gpu-out " + quoted(gpu), dir);
  REQUIRE(r.status == 0);
  const nlohmann::json m = nlohmann::json::parse(r.out);
  CHECK(m["gemm"].size() >= 9);
  CHECK(m["add_GBps"].get<double>() > 0);
  CHECK(m["bus_GBps"].get<double>() > 0);
  const nlohmann::json c = nlohmann::json::parse(shardplan_test::slurp(out));
  CHECK(c["network"].size() == 1);
  CHECK(c["network"][0]["name"] == "threads");
  CHECK(c["gpu"]["runtime_reserved_bytes"] == 0);
  const std::string model = dir.write("tiny.json", kTiny);
  CliResult e = run_cli("estimate --model " + quoted(model) + " --cluster " + quoted(out) +
                            " --gpus 1 --global-batch 4 --precision fp32 --no-flash-attention --json", dir);
  REQUIRE(e.status == 0);
  CHECK(nlohmann::json::parse(e.out)["step_time_s"].get<double>() > 0);
  // The GPU file alone is a valid GPU preset too: a cluster file may name it by path.
  const std::string cl = dir.write("cl.json", "{\"name\": \"x\", \"gpu\": \"" + gpu + "\", \"gpus_per_node\": 2, "
                                              "\"network\": [{\"name\": \"t\", \"bandwidth_GBps\": 1}]}");
  CHECK(run_cli("estimate --model " + quoted(model) + " --cluster " + quoted(cl) +
                    " --gpus 2 --global-batch 4 --precision fp32 --tp 2", dir).status == 0);
}
