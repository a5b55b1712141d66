// The rows beyond the calibration set (validation/beyond: NeMo, Megatron-Bridge, Llama 3,
// torchtitan and DeepSeek-V3 runs on H100/H800) load, name their cluster file relative to
// themselves, and every one is a valid strategy the estimator prices. Their accuracy is reported by
// `shardplan validate --dir validation/beyond`, not asserted here; the measured peak memory of
// the torchtitan rows is read and compared as the allocator's share.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include <set>

#include "core/error.hpp"
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

TEST_CASE("validation: a measured peak memory is compared as the allocator's share") {
  // torchtitan prints the peak reserved memory of PyTorch's caching allocator: the prediction is
  // compared less the GPU profile's runtime_reserved_bytes (CUDA context, NCCL buffers).
  const std::vector<ValidationRow> rows =
      load_validation_rows(std::string(SHARDPLAN_SOURCE_DIR) + "/validation/beyond");
  int with_memory = 0;
  for (const ValidationRow& row : rows) {
    if (!row.peak_reserved_bytes) continue;
    CAPTURE(row.id);
    ++with_memory;
    const ValidationResult r = validate_row(row);
    const double runtime = validation_setup(row).cluster.gpu.runtime_reserved_bytes;
    CHECK(r.measured_reserved_bytes == *row.peak_reserved_bytes);
    CHECK(r.predicted_reserved_bytes == testing::rel(r.predicted_peak_memory_bytes - runtime));
    CHECK(r.memory_error == testing::rel((r.predicted_reserved_bytes - r.measured_reserved_bytes) /
                                            r.measured_reserved_bytes));
  }
  CHECK(with_memory == 7);  // the torchtitan rows
}

TEST_CASE("validation: peak_reserved_gib is read in GiB and must be a positive number") {
  const std::string row = R"({"rows": [{"id": "r", "group": "g", "source": "s",
    "model": {"name": "m", "layers": 2, "hidden": 64, "heads": 4, "ffn_hidden": 256, "vocab": 128,
              "seq_len": 32},
    "cluster": "dgx-h100", "gpus": 8, "strategy": {"dp": 8, "global_batch": 8},
    "measured": {"step_time_s": 1.0, "peak_reserved_gib": MEM}}]})";
  auto with = [&](const std::string& mem) {
    std::string t = row;
    t.replace(t.find("MEM"), 3, mem);
    return validation_rows_from_text(t, "rows.json");
  };
  CHECK(*with("2.5")[0].peak_reserved_bytes == 2.5 * 1073741824.0);
  for (const char* bad : {"-1", "0", "\"77\""}) {
    CAPTURE(bad);
    try {
      with(bad);
      FAIL("accepted");
    } catch (const InputError& e) {
      CHECK(std::string(e.what()).find("/rows/0/measured/peak_reserved_gib") != std::string::npos);
    }
  }
}

TEST_CASE("validation: a row's strategy, GPU count and ZeRO stage are checked, layer rows too, and named by path") {
  // A row of GPT-like layers on 8 H100s. Each broken variant is an error naming its JSON path:
  // 3-way TP over 4 heads in a per-layer row (used to be priced with fractional heads), 12 GPUs
  // on 8-GPU nodes (used to be a usage error naming --gpus), and a ZeRO stage of 2^32 + 1 (which
  // narrowed to 1).
  const std::string row = R"({"rows": [{"id": "r", "group": "g", "source": "s",
    "model": {"name": "m", "layers": 2, "hidden": 64, "heads": 4, "ffn_hidden": 256, "vocab": 128,
              "seq_len": 32},
    "cluster": "dgx-h100", "gpus": GPUS, "strategy": {"tp": TP, "dp": DP, "zero": ZERO, "global_batch": 8},
    "measured": MEASURED}]})";
  auto rows = [&](const std::string& gpus, const std::string& tp, const std::string& dp, const std::string& zero,
                  const std::string& measured) {
    std::string t = row;
    for (auto [key, value] : {std::pair{"GPUS", gpus}, {"TP", tp}, {"DP", dp}, {"ZERO", zero}, {"MEASURED", measured}})
      t.replace(t.find(key), std::string(key).size(), value);
    return validation_rows_from_text(t, "rows.json");
  };
  const std::string layer = R"({"layer_forward_ms": 1.0, "layer_backward_ms": 2.0})";
  const std::string step = R"({"step_time_s": 1.0})";
  auto error_path = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const InputError& e) {
      return e.json_path();
    }
    return "accepted";
  };
  CHECK(validate_row(rows("8", "4", "2", "0", layer)[0]).layer_row);  // 4 heads over tp 4: a valid layer row
  CHECK(error_path([&] { validate_row(rows("24", "3", "8", "0", layer)[0]); }) == "/rows/0/strategy");
  CHECK(error_path([&] { validate_row(rows("8", "4", "1", "0", layer)[0]); }) == "/rows/0/strategy");  // 4 of 8 GPUs
  CHECK(error_path([&] { validate_row(rows("12", "1", "12", "0", step)[0]); }) == "/rows/0/gpus");
  CHECK(error_path([&] { rows("8", "1", "8", "4294967297", step); }) == "/rows/0/strategy/zero");
  CHECK(error_path([&] { rows("20000000", "1", "20000000", "0", step); }) == "/rows/0/gpus");
}
