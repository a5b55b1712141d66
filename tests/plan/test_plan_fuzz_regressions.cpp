// Plan files that once crashed or overflowed the reader (found while fuzzing, tests/fuzz): each
// is a valid plan with one field made absurd; reading it must be an InputError, quickly.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "plan/plan.hpp"
#include "plan_fixtures.hpp"

using namespace shardplan;

namespace {
nlohmann::ordered_json valid_plan() {
  Strategy s;
  s.tp = 2;
  s.micro_batch = 1;
  s.global_batch = 8;
  return nlohmann::ordered_json::parse(plan_to_text(shardplan_test::fixed_plan("tiny-dense", "dgx-h100", 8, s)));
}
std::string error_of(const nlohmann::ordered_json& j) {
  try {
    plan_from_text(j.dump(1), "p.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("plan fuzz: the valid plan reads back") {
  CHECK(error_of(valid_plan()).empty());
}

TEST_CASE("plan fuzz: dp * micro_batch overflowing to 0 is an input error, not SIGFPE") {
  // dp = 2^62, micro_batch 4: the product wrapped to 0 and global_batch % 0 killed the process.
  auto j = valid_plan();
  j["strategy"]["dp"] = int64_t{1} << 62;
  j["strategy"]["micro_batch"] = 4;
  CHECK(error_of(j).find("/strategy/global_batch") != std::string::npos);
}

TEST_CASE("plan fuzz: dp*tp*pp*cp overflowing is an input error that says so") {
  auto j = valid_plan();
  j["strategy"]["pp"] = int64_t{1} << 62;  // with tp = 2 the product is 2^63: signed overflow
  j["strategy"]["schedule"] = "1f1b";
  const std::string e = error_of(j);
  CHECK(e.find("/gpus") != std::string::npos);
  CHECK(e.find("beyond 2^63") != std::string::npos);
}

TEST_CASE("plan fuzz: a short file claiming ten million ranks is refused before the layout is built") {
  // Consistent counts (dp 5,000,000 x tp 2 = 10^7 GPUs on 1,250,000 nodes): the reader used to
  // build the whole derived layout and groups (gigabytes) to compare with the few bytes given.
  auto j = valid_plan();
  j["strategy"]["dp"] = 5'000'000;
  j["strategy"]["global_batch"] = 5'000'000;
  j["gpus"] = 10'000'000;
  j["cluster"]["nodes"] = 1'250'000;
  const std::string e = error_of(j);
  CHECK(e.find("/gpus") != std::string::npos);
  CHECK(e.find("fit in its") != std::string::npos);
  // 2^40 sequences in micro-batches of one: a schedule of 2^40 passes per stage.
  j = valid_plan();
  j["strategy"]["global_batch"] = int64_t{1} << 40;
  CHECK(error_of(j).find("fit in its") != std::string::npos);
}

TEST_CASE("plan fuzz: a cluster with 2^62 nodes is an input error at /cluster/nodes") {
  auto j = valid_plan();
  j["cluster"]["nodes"] = int64_t{1} << 62;
  CHECK(error_of(j).find("/cluster/nodes") != std::string::npos);
}
