// Parsing JSON input files: a key repeated in one object is an error at that object's path (not
// the last value silently winning), and a directory given as a file says so.
#include <doctest/doctest.h>

#include <filesystem>

#include "core/error.hpp"
#include "core/hardware.hpp"
#include "core/json_reader.hpp"
#include "core/model_spec.hpp"

using namespace shardplan;

namespace {
std::string parse_error(const std::string& text) {
  try {
    parse_json_text(text, "f.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("json: a duplicate key names the file, the object's path and the key") {
  CHECK(parse_error(R"({"layers": 4, "hidden": 64, "layers": 8})") ==
        "f.json: at /: duplicate key \"layers\": expected each key once in an object");
  CHECK(parse_error(R"({"moe": {"experts": 4, "top_k": 2, "experts": 8}})")
            .find("f.json: at /moe: duplicate key \"experts\"") == 0);
  // Inside arrays the path counts elements, primitive or not.
  CHECK(parse_error(R"({"ops": [1, {"a": 1}, [2], {"name": "x", "dims": [8], "name": "y"}]})")
            .find("f.json: at /ops/3: duplicate key \"name\"") == 0);
  CHECK(parse_error(R"({"a": [{"b": {"c": 1, "c": 2}}]})").find("at /a/0/b: duplicate key \"c\"") !=
        std::string::npos);
  // The same key in sibling objects, or after a nested object closed, is not a duplicate.
  CHECK(parse_error(R"({"x": {"k": 1}, "y": {"k": 2}, "k": [{"k": 1}, {"k": 2}]})").empty());
}

TEST_CASE("json: every loader rejects duplicate keys") {
  CHECK_THROWS_WITH_AS(
      model_spec_from_json_text(
          R"({"layers": 4, "hidden": 64, "heads": 4, "vocab": 100, "seq_len": 16, "layers": 8})",
          "m.json"),
      doctest::Contains("m.json: at /: duplicate key \"layers\""), InputError);
  CHECK_THROWS_WITH_AS(gpu_from_json_text(R"({"name": "g", "name": "h"})", "g.json"),
                       doctest::Contains("g.json: at /: duplicate key \"name\""), InputError);
  CHECK_THROWS_WITH_AS(
      cluster_from_json_text(R"({"name": "c", "gpu": "h100-sxm", "gpus_per_node": 8,
        "network": [{"name": "ib", "bandwidth_GBps": 25, "bandwidth_GBps": 50}]})",
                             "c.json"),
      doctest::Contains("c.json: at /network/0: duplicate key \"bandwidth_GBps\""), InputError);
}

TEST_CASE("json: a directory given as a file says it is a directory") {
  const std::string dir = std::string(SHARDPLAN_SOURCE_DIR) + "/models";
  CHECK_THROWS_WITH_AS(parse_json_file(dir),
                       doctest::Contains("is a directory: expected a JSON file"), InputError);
  CHECK_THROWS_WITH_AS(load_cluster(dir),
                       doctest::Contains((dir + ": at /: is a directory").c_str()), InputError);
}
