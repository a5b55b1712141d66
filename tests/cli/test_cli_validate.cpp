// `shardplan validate --dir`: rows the README says are rejected exit 2 with one line naming the
// file, the JSON path and what was expected (an unknown field, a row measuring nothing, no rows,
// an id used twice, a strategy the estimator refuses).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "cli_run.hpp"

using shardplan_test::CliResult;
using shardplan_test::run_cli;
using shardplan_test::ScratchDir;

namespace {
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// One row on 8 H100s; `strategy` and `measured` are the JSON objects, `extra` more row fields.
std::string row(const std::string& id, const std::string& extra = "",
                const std::string& measured = R"({"step_time_s": 1.0})",
                const std::string& strategy = R"({"dp": 8, "global_batch": 8})") {
  return R"({"id": ")" + id + R"(", "group": "g", "source": "s",
    "model": {"name": "m", "layers": 2, "hidden": 64, "heads": 4, "ffn_hidden": 256, "vocab": 128, "seq_len": 32},
    "cluster": "dgx-h100", "gpus": 8, "strategy": )" +
         strategy + R"(, "measured": )" + measured + extra + "}";
}

std::string rows(const std::string& r) {
  return R"({"group": "g", "source": "s", "rows": [)" + r + "]}";
}

// `validate --dir` on a fresh directory holding `files` (name, text).
CliResult validate(const ScratchDir& dir, const std::string& sub,
                   std::initializer_list<std::pair<const char*, std::string>> files) {
  std::filesystem::create_directories(dir.file(sub));
  for (const auto& [name, text] : files) dir.write(sub + "/" + name, text);
  return run_cli("validate --dir '" + dir.file(sub) + "'", dir);
}

void check_error(const CliResult& r, const std::string& where, const std::string& what) {
  CAPTURE(r.err);
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(contains(r.err, where));
  CHECK(contains(r.err, what));
}
}  // namespace

TEST_CASE("cli validate: bad rows exit 2 naming the file, the path and what was expected") {
  ScratchDir dir("cli_validate");
  REQUIRE(validate(dir, "ok", {{"a.json", rows(row("r1"))}}).status == 0);
  check_error(validate(dir, "unknown", {{"a.json", rows(row("r1", R"(, "bogus": 1)"))}}),
              dir.file("unknown/a.json") + ": at /rows/0/bogus", "unknown field \"bogus\"");
  check_error(validate(dir, "unknown_strategy",
                       {{"a.json", rows(row("r1", "", R"({"step_time_s": 1.0})",
                                            R"({"dp": 8, "global_batch": 8, "tpx": 2})"))}}),
              "at /rows/0/strategy/tpx", "unknown field \"tpx\" (did you mean \"tp\"?)");
  check_error(validate(dir, "empty_measured", {{"a.json", rows(row("r1", "", "{}"))}}),
              dir.file("empty_measured/a.json") + ": at /rows/0/measured:", "expected step_time_s");
  check_error(validate(dir, "half_layer",
                       {{"a.json", rows(row("r1", "", R"({"layer_forward_ms": 2.0})"))}}),
              "at /rows/0/measured/layer_backward_ms", "missing required field");
  check_error(validate(dir, "none", {}), dir.file("none") + ": at /:", "found no rows");
  check_error(validate(dir, "no_rows", {{"a.json", rows("")}}), "no_rows: at /:", "found no rows");
  check_error(
      validate(dir, "dup",
               {{"a.json", rows(row("r1"))}, {"b.json", rows(row("r2") + "," + row("r1"))}}),
      dir.file("dup/b.json") + ": at /rows/1/id",
      "\"r1\" (also at " + dir.file("dup/a.json") + ": /rows/0)");
  check_error(validate(dir, "dup_key", {{"a.json", rows(row("r1", R"(, "gpus": 16)"))}}),
              dir.file("dup_key/a.json") + ": at /rows/0: duplicate key \"gpus\"", "");
  // heads 4 do not divide over tp 8: the estimator refuses the strategy; the error names the file.
  check_error(validate(dir, "invalid",
                       {{"a.json", rows(row("r1", "", R"({"step_time_s": 1.0})",
                                            R"({"tp": 8, "global_batch": 8})"))}}),
              dir.file("invalid/a.json") + ": at /rows/0/strategy: row \"r1\": invalid strategy",
              "");
}

TEST_CASE("cli validate: the descriptive fields are typed, ids and references checked") {
  ScratchDir dir("cli_validate_fields");
  REQUIRE(validate(dir, "ok",
                   {{"a.json", rows(row("r1", R"(, "assumed": ["zero=0: not stated"], "notes": "n",
                     "published": {"mfu": 0.5}, "step_time_how": "measured")") +
                                    "," + row("r2", R"(, "duplicate_of": "r1",
                     "step_time_how": "derived: step = B*s / t")"))}})
              .status == 0);
  // Each of these was accepted silently.
  check_error(validate(dir, "assumed", {{"a.json", rows(row("r1", R"(, "assumed": 5)"))}}),
              dir.file("assumed/a.json") + ": at /rows/0/assumed: expected an array of strings",
              "found an integer (5)");
  check_error(validate(dir, "assumed_item", {{"a.json", rows(row("r1", R"(, "assumed": ["a", 5])"))}}),
              "at /rows/0/assumed/1: expected a string", "found an integer (5)");
  check_error(validate(dir, "notes", {{"a.json", rows(row("r1", R"(, "notes": 5)"))}}),
              dir.file("notes/a.json") + ": at /rows/0/notes: expected a string", "found an integer");
  check_error(validate(dir, "published", {{"a.json", rows(row("r1", R"(, "published": "x")"))}}),
              dir.file("published/a.json") + ": at /rows/0/published: expected an object",
              "found a string");
  check_error(validate(dir, "how", {{"a.json", rows(row("r1", R"(, "step_time_how": "garbage")"))}}),
              dir.file("how/a.json") + ": at /rows/0/step_time_how: expected \"measured\" or",
              "found a string (\"garbage\")");
  check_error(validate(dir, "empty_id", {{"a.json", rows(row(""))}}),
              dir.file("empty_id/a.json") + ": at /rows/0/id: expected a non-empty row id", "");
  check_error(validate(dir, "dangling",
                       {{"a.json", rows(row("r1") + "," + row("r2", R"(, "duplicate_of": "r9")"))}}),
              dir.file("dangling/a.json") + ": at /rows/1/duplicate_of: expected the id of another row",
              "found \"r9\"");
  // Two rows naming each other would both leave the statistics: the original may not be a duplicate.
  check_error(validate(dir, "cycle",
                       {{"a.json", rows(row("r1", R"(, "duplicate_of": "r2")") + "," +
                                        row("r2", R"(, "duplicate_of": "r1")"))}}),
              dir.file("cycle/a.json") + ": at /rows/0/duplicate_of: expected the id of an original row",
              "itself a duplicate of \"r1\"");
  // Was "error: nope: at /: unknown cluster ...", naming neither the file nor the row.
  std::string nope = rows(row("r1"));
  nope.replace(nope.find("dgx-h100"), 8, "nope");
  check_error(validate(dir, "cluster", {{"a.json", nope}}),
              dir.file("cluster/a.json") + ": at /rows/0/cluster: unknown cluster \"nope\"",
              "expected one of");
}
