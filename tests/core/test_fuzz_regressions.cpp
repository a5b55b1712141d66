// Inputs the fuzzers (tests/fuzz) found that once escaped as something other than an InputError
// or UsageError (exit status 2). Each case is the minimised input, inline.
#include <doctest/doctest.h>

#include "core/error.hpp"
#include "core/hardware.hpp"
#include "core/model_spec.hpp"
#include "core/strategy.hpp"

using namespace shardplan;

TEST_CASE("fuzz: a number beyond double is an input error, not a json exception") {
  // fuzz_model_spec: nlohmann throws out_of_range (406) for "641e308", not parse_error.
  CHECK_THROWS_AS(model_spec_from_json_text(R"({"layers": 641e308})", "m.json"), InputError);
  CHECK_THROWS_AS(gpu_from_json_text(R"({"memory_bytes": -1e400})", "g.json"), InputError);
}

TEST_CASE("fuzz: sizes that would overflow the builder's int64 products are rejected") {
  // hidden = 2^62: the ffn_hidden default 4 * hidden overflowed (UBSan) before the bound check.
  CHECK_THROWS_WITH_AS(model_spec_from_json_text(
                           R"({"layers":1,"hidden":4611686018427387904,"heads":1,"vocab":1,"seq_len":1})", "m.json"),
                       doctest::Contains("/hidden"), InputError);
  // head_dim and the MoE sizes were unbounded: (heads + 2 kv_heads) * head_dim overflowed.
  CHECK_THROWS_WITH_AS(model_spec_from_json_text(
                           R"({"layers":1,"hidden":64,"heads":4,"head_dim":4611686018427387904,"vocab":1,"seq_len":1})",
                           "m.json"),
                       doctest::Contains("/head_dim"), InputError);
  CHECK_THROWS_WITH_AS(model_spec_from_json_text(R"({"layers":1,"hidden":64,"heads":4,"vocab":1,"seq_len":1,
      "moe":{"experts":8,"top_k":2,"ffn_hidden":4611686018427387904,"shared_experts":4}})",
                                                 "m.json"),
                       doctest::Contains("/moe/ffn_hidden"), InputError);
}

TEST_CASE("fuzz: a billion layers is an input error, not a graph that exhausts memory") {
  // layers up to 2^30 were accepted; the graph has ~15 ops per layer.
  CHECK_THROWS_WITH_AS(
      model_spec_from_json_text(R"({"layers":1073741824,"hidden":64,"heads":4,"vocab":100,"seq_len":16})", "m.json"),
      doctest::Contains("at most 10000 layers"), InputError);
  CHECK(model_spec_from_json_text(R"({"layers":10000,"hidden":64,"heads":4,"vocab":100,"seq_len":16})", "m.json")
            .layers == 10000);
}

TEST_CASE("fuzz: cluster sizes are bounded so nodes * gpus_per_node cannot overflow") {
  const char* text = R"({"name": "c", "gpu": "a100-80g", "gpus_per_node": 8, "nodes": 4611686018427387904,
    "network": [{"name": "nvlink", "gpus": 8, "bandwidth_GBps": 300}, {"name": "ib", "bandwidth_GBps": 25}]})";
  CHECK_THROWS_WITH_AS(cluster_from_json_text(text, "c.json"), doctest::Contains("/nodes"), InputError);
}

TEST_CASE("fuzz: a GPU name too long for a file name is an unknown GPU, not a filesystem_error") {
  // fuzz_cluster: "gpu": "<300 characters>" made std::filesystem::exists throw ENAMETOOLONG.
  const std::string name(300, 'd');
  const std::string text = R"({"name": "c", "gpu": ")" + name + R"(", "gpus_per_node": 8,
    "network": [{"name": "ib", "bandwidth_GBps": 25}]})";
  CHECK_THROWS_WITH_AS(cluster_from_json_text(text, "c.json"), doctest::Contains("unknown GPU"), InputError);
  CHECK_THROWS_AS(load_gpu(name), InputError);
  CHECK_THROWS_AS(load_cluster(name), InputError);
}

TEST_CASE("hardware figures outside physical bounds are input errors, not infinite or NaN times") {
  // A bandwidth of 1e-320 parsed as positive and made the simulator loop on infinite times; a
  // kernel overhead of 1e308 gave NaN step times (a CLI review).
  const char* ib = R"({"name": "c", "gpu": "a100-80g", "gpus_per_node": 8,
    "network": [{"name": "nvlink", "gpus": 8, "bandwidth_GBps": 300}, {"name": "ib", "bandwidth_GBps": 1e-320}]})";
  CHECK_THROWS_WITH_AS(cluster_from_json_text(ib, "c.json"), doctest::Contains("/network/1/bandwidth_GBps"), InputError);
  const std::string gpu = R"({"name": "g", "memory_bytes": 8e10, "memory_bandwidth_GBps": 2000, "sms": 108,
    "peak_tflops": {"fp32": 19.5, "bf16": 312}, "kernel_overhead_us": 1e308})";
  CHECK_THROWS_WITH_AS(gpu_from_json_text(gpu, "g.json"), doctest::Contains("expected a time in microseconds from 0 to 1e+07"),
                       InputError);
  CHECK_THROWS_WITH_AS(gpu_from_json_text(R"({"name": "g", "memory_bytes": 8e10, "memory_bandwidth_GBps": 1e-320,
    "sms": 108, "peak_tflops": {"fp32": 19.5}})", "g.json"),
                       doctest::Contains("/memory_bandwidth_GBps"), InputError);
}

TEST_CASE("a JSON document nested too deep is an input error, not a stack overflow") {
  // '[' * 100000 + ']' * 100000 crashed with SIGSEGV (a CLI review).
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THROWS_WITH_AS(gpu_from_json_text(deep, "g.json"), doctest::Contains("nested deeper than 256 levels"), InputError);
  CHECK_THROWS_WITH_AS(model_spec_from_json_text(deep, "m.json"), doctest::Contains("nested deeper"), InputError);
}
