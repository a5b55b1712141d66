// The rows beyond the calibration set (validation/beyond: NeMo, Megatron-Bridge, Llama 3,
// torchtitan and DeepSeek-V3 runs on H100/H800) load, name their cluster file relative to
// themselves, and every one is a valid strategy the estimator prices. Their accuracy is reported by
// `shardplan validate --dir validation/beyond`, not asserted here.
#include <doctest/doctest.h>

#include <set>

#include "costmodel/estimate.hpp"
#include "costmodel/validation.hpp"

using namespace shardplan;

TEST_CASE("validation/beyond: every row loads and is priced") {
  const std::vector<ValidationRow> rows =
      load_validation_rows(std::string(SHARDPLAN_SOURCE_DIR) + "/validation/beyond");
  CHECK(rows.size() >= 26);
  std::set<std::string> groups;
  for (const ValidationRow& row : rows) {
    CAPTURE(row.id);
    REQUIRE(row.step_time_s);
    ValidationSetup setup = validation_setup(row);
    Estimator est(setup.graph, setup.cluster);
    const Estimate e = est.estimate(row.strategy);
    CHECK(e.valid());
    CHECK(e.step_time_s > 0);
    groups.insert(row.group);
  }
  CHECK(groups.size() >= 6);
}
