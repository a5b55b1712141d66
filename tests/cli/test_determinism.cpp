// Same inputs, same bytes (DESIGN.md "Habits"; issue 9): `plan --json` and the plan file across
// runs and across --threads 1 and 2 (only search.wall_s and search.threads may differ),
// `simulate --json` and its trace across runs, `validate --json` across runs.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "cli_run.hpp"

using shardplan_test::CliResult;
using shardplan_test::run_cli;
using shardplan_test::ScratchDir;
using shardplan_test::slurp;

namespace {
// The output without the lines that are allowed to differ (run time, thread count).
std::string without_lines_containing(const std::string& text, std::initializer_list<const char*> keys) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    bool skip = false;
    for (const char* k : keys) skip = skip || line.find(k) != std::string::npos;
    if (!skip) out += line + "\n";
  }
  return out;
}

std::string plan_output(const std::string& args, const ScratchDir& dir) {
  CliResult r = run_cli(args, dir);
  REQUIRE(r.status == 0);
  REQUIRE(r.out.find("\"wall_s\"") != std::string::npos);
  return without_lines_containing(r.out, {"\"wall_s\":", "\"search_wall_s\":", "\"threads\":"});
}
}  // namespace

TEST_CASE("determinism: plan --json and --out are the same bytes across runs and thread counts") {
  ScratchDir dir("determinism_plan");
  // Big enough that both threads take work (tens of thousands of strategies), small enough to be quick.
  const std::string base = "plan --model gpt-22b --cluster dgx-a100 --gpus 64 --global-batch 256 --top 10 --json";
  const std::string one = plan_output(base + " --threads 1 --out '" + dir.file("p1.json") + "'", dir);
  const std::string two = plan_output(base + " --threads 2 --out '" + dir.file("p2.json") + "'", dir);
  const std::string again = plan_output(base + " --threads 2 --out '" + dir.file("p3.json") + "'", dir);
  CHECK(one.size() > 1000);
  CHECK(one == two);
  CHECK(two == again);
  const std::string f1 = slurp(dir.file("p1.json"));
  CHECK(f1.size() > 100);
  CHECK(f1 == slurp(dir.file("p2.json")));
  CHECK(f1 == slurp(dir.file("p3.json")));
}

TEST_CASE("determinism: simulate --json and --trace are the same bytes across runs") {
  ScratchDir dir("determinism_simulate");
  const std::string base = "simulate --model gpt-22b --cluster dgx-a100 --gpus 64 --global-batch 64 --tp 8 --pp 4 "
                           "--recompute selective --sp --json --trace ";
  CliResult a = run_cli(base + "'" + dir.file("t1.json") + "'", dir);
  CliResult b = run_cli(base + "'" + dir.file("t2.json") + "'", dir);
  REQUIRE(a.status == 0);
  REQUIRE(b.status == 0);
  CHECK(a.out.size() > 100);
  CHECK(a.out == b.out);
  const std::string t1 = slurp(dir.file("t1.json"));
  CHECK(t1.size() > 1000);
  CHECK(t1 == slurp(dir.file("t2.json")));
}

TEST_CASE("determinism: validate --json is the same bytes across runs") {
  ScratchDir dir("determinism_validate");
  CliResult a = run_cli("validate --json", dir);
  CliResult b = run_cli("validate --json", dir);
  REQUIRE(a.status == 0);
  REQUIRE(b.status == 0);
  CHECK(a.out.size() > 1000);
  CHECK(a.out == b.out);
}
