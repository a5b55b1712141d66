// Compact, deterministic JSON text and a path-naming structural diff.
#include "plan/json_text.hpp"

#include <algorithm>
#include <cmath>

namespace shardplan {

namespace {
using OJ = nlohmann::ordered_json;

// One line: arrays of numbers, booleans and short strings (rank lists, block names). Long strings
// (a stage's schedule) get a line each.
bool inline_array(const OJ& j) {
  return std::all_of(j.begin(), j.end(), [](const OJ& e) {
    return !e.is_structured() && !(e.is_string() && e.get_ref<const std::string&>().size() > 40);
  });
}

void write(const OJ& j, int indent, int depth, std::string& out) {
  const std::string pad(static_cast<size_t>(indent * (depth + 1)), ' ');
  const std::string close_pad(static_cast<size_t>(indent * depth), ' ');
  if (j.is_object()) {
    if (j.empty()) return void(out += "{}");
    out += "{\n";
    size_t i = 0;
    for (auto it = j.begin(); it != j.end(); ++it, ++i) {
      out += pad + OJ(it.key()).dump() + ": ";
      write(it.value(), indent, depth + 1, out);
      out += i + 1 < j.size() ? ",\n" : "\n";
    }
    out += close_pad + "}";
  } else if (j.is_array()) {
    if (j.empty()) return void(out += "[]");
    if (inline_array(j)) {
      out += "[";
      for (size_t i = 0; i < j.size(); ++i) {
        if (i) out += ',';
        out += j[i].dump();
      }
      out += "]";
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < j.size(); ++i) {
      out += pad;
      write(j[i], indent, depth + 1, out);
      out += i + 1 < j.size() ? ",\n" : "\n";
    }
    out += close_pad + "]";
  } else {
    out += j.dump();
  }
}

std::string excerpt(const nlohmann::json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// JSON pointer escaping (RFC 6901): "~" -> "~0", "/" -> "~1".
std::string escape_key(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

bool numbers_equal(const nlohmann::json& a, const nlohmann::json& b, double rel_tol) {
  if (a.is_number_integer() && b.is_number_integer() && rel_tol == 0)
    return a.get<int64_t>() == b.get<int64_t>();
  const double x = a.get<double>(), y = b.get<double>();
  return std::fabs(x - y) <= rel_tol * std::max(std::fabs(x), std::fabs(y));
}

void diff(const nlohmann::json& e, const nlohmann::json& f, double tol, size_t max,
          const std::string& path, std::vector<JsonDifference>& out) {
  if (out.size() >= max) return;
  const std::string where = path.empty() ? "/" : path;
  if (e.is_number() && f.is_number()) {
    if (!numbers_equal(e, f, tol)) out.push_back({where, e.dump(), f.dump()});
  } else if (e.is_object() && f.is_object()) {
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string p = path + "/" + escape_key(it.key());
      auto g = f.find(it.key());
      if (g == f.end())
        out.push_back({p, excerpt(*it), "missing"});
      else
        diff(*it, *g, tol, max, p, out);
    }
    for (auto it = f.begin(); it != f.end(); ++it)
      if (!e.contains(it.key()))
        out.push_back({path + "/" + escape_key(it.key()), "missing", excerpt(*it)});
  } else if (e.is_array() && f.is_array() && e.size() == f.size()) {
    for (size_t i = 0; i < e.size(); ++i)
      diff(e[i], f[i], tol, max, path + "/" + std::to_string(i), out);
  } else if (e != f) {
    out.push_back({where, excerpt(e), excerpt(f)});
  }
}
}  // namespace

std::string json_to_text(const nlohmann::ordered_json& j, int indent) {
  std::string out;
  write(j, indent, 0, out);
  return out;
}

std::vector<JsonDifference> json_differences(const nlohmann::json& expected,
                                             const nlohmann::json& found, double rel_tol,
                                             size_t max, const std::string& path) {
  std::vector<JsonDifference> out;
  diff(expected, found, rel_tol, max, path, out);
  if (out.size() > max) out.resize(max);
  return out;
}

}  // namespace shardplan
