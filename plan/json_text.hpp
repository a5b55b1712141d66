// JSON as plan files write it and compare it: deterministic text that keeps rank lists compact
// (arrays of scalars on one line), and a structural diff that names JSON paths.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shardplan {

// Objects one key per line in their insertion order; arrays of numbers, booleans and short strings
// on one line; other arrays one element per line; `indent` spaces per level; no trailing newline.
std::string json_to_text(const nlohmann::ordered_json& j, int indent = 1);

struct JsonDifference {
  std::string path;             // JSON pointer ("/memory/per_stage/3/total_bytes")
  std::string expected, found;  // compact JSON text ("missing" when absent)
  bool operator==(const JsonDifference&) const = default;
};

// Where `found` differs from `expected`, in document order, at most `max` of them. Numbers are
// equal when |a - b| <= rel_tol * max(|a|, |b|) (rel_tol 0: exactly equal values).
std::vector<JsonDifference> json_differences(const nlohmann::json& expected,
                                             const nlohmann::json& found, double rel_tol,
                                             size_t max, const std::string& path = "");

}  // namespace shardplan
