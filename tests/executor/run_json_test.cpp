// The run's options and report as JSON (executor/run_json.hpp): what `shardplan run --backend
// cuda` hands shardplan-cuda and reads back, and what the CUDA launcher hands each rank. Both
// round-trip exactly; bad text names the file and the JSON path.
#include <doctest/doctest.h>

#include "core/error.hpp"
#include "executor/run_json.hpp"
#include "tiny_model.hpp"

using namespace shardplan;
using namespace shardplan::executor;

TEST_CASE("run json: options and report round-trip") {
  RunOptions o = testing::options(testing::tiny(true), "tp=2,pp=2,vp=2,mbs=1,zero=1,recompute=full", 9);
  o.strategy.seq_len = o.model.seq_len;
  o.strategy.precision = DType::bf16;
  o.data_file = "tokens.bin";
  o.checkpoint_dir = "ckpt";
  o.resume = true;
  const RunOptions back = run_options_from_json(run_options_to_json(o), "o.json");
  CHECK(back.model == o.model);
  CHECK(back.strategy == o.strategy);
  CHECK(back.steps == 9);
  CHECK(back.seed == o.seed);
  CHECK(back.data_file == "tokens.bin");
  CHECK(back.checkpoint_dir == "ckpt");
  CHECK(back.resume);

  RunReport r;
  r.losses = {4.85, 4.5};
  r.grad_norms = {1.5, 1.25};
  r.step_times_s = {0.5, 0.25};
  r.step_cpu_times_s = {0.4, 0.2};
  r.step_time_s = 0.25;
  r.tokens_per_s = 512;
  RankMemory m;
  m.rank = 1;
  m.peak_bytes = {1, 2, 3, 4, 5};
  m.current_bytes = {5, 4, 3, 2, 1};
  m.peak_total_bytes = 12;
  r.peak_bytes_per_rank = {m};
  r.device_peak_bytes = {1 << 30};
  const RunReport rb = run_report_from_json(run_report_to_json(r), "r.json");
  CHECK(rb.losses == r.losses);
  CHECK(rb.grad_norms == r.grad_norms);
  CHECK(rb.step_times_s == r.step_times_s);
  CHECK(rb.step_cpu_times_s == r.step_cpu_times_s);
  CHECK(rb.step_time_s == r.step_time_s);
  CHECK(rb.tokens_per_s == r.tokens_per_s);
  CHECK(rb.peak_bytes_per_rank == r.peak_bytes_per_rank);
  CHECK(rb.device_peak_bytes == r.device_peak_bytes);
}

TEST_CASE("run json: bad text names the file and the path") {
  auto path_of = [](auto f) {
    try {
      f();
    } catch (const InputError& e) {
      CHECK(e.file() == "x.json");
      return e.json_path();
    }
    return std::string("no error");
  };
  CHECK(path_of([] { run_options_from_json("{", "x.json"); }) == "/");
  CHECK(path_of([] { run_report_from_json(R"({"losses": "many"})", "x.json"); }) == "/losses");
  const std::string ok = run_options_to_json(testing::options(testing::tiny(), ""));
  std::string bad = ok;
  const size_t at = bad.find("\"precision\":\"") + 13, end = bad.find('"', at);
  REQUIRE(end != std::string::npos);
  bad.replace(at, end - at, "fp64");
  CHECK(path_of([&] { run_options_from_json(bad, "x.json"); }) == "/precision");
}
