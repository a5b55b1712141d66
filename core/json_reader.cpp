// JsonObject: typed, path-aware access to JSON objects with errors that name file and path.
#include "core/json_reader.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace shardplan {

namespace {
// One object or array open while parsing: the keys an object has had, or an array's next index,
// and the key or index of the value being read inside it (for the path of a nested object).
struct OpenValue {
  bool object = false;
  std::set<std::string> keys;
  size_t next_index = 0;
  std::string at;
};

// A SAX pass that rejects the second of two equal keys in one object (nlohmann's DOM parser keeps
// the last). Linear in the text; the DOM parser's callback form is far slower on large files.
class DuplicateKeys : public nlohmann::json_sax<Json> {
 public:
  explicit DuplicateKeys(const std::string& file) : file_(file) {}
  bool null() override { return element(); }
  bool boolean(bool) override { return element(); }
  bool number_integer(number_integer_t) override { return element(); }
  bool number_unsigned(number_unsigned_t) override { return element(); }
  bool number_float(number_float_t, const string_t&) override { return element(); }
  bool string(string_t&) override { return element(); }
  bool binary(binary_t&) override { return element(); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (!open_.back().keys.insert(k).second)
      throw InputError(file_, path(), "duplicate key \"" + k + "\": expected each key once in an object");
    open_.back().at = k;
    return true;
  }
  // Malformed text: stop here; the DOM parse that follows reports it with its byte offset.
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool element() {
    if (!open_.empty() && !open_.back().object) open_.back().at = std::to_string(open_.back().next_index++);
    return true;
  }
  bool open(bool object) {
    element();
    // No input of ours nests deeply; a document nested tens of thousands deep overflowed the
    // stack further on (a CLI review: '[' * 100000).
    if (open_.size() >= kMaxJsonDepth)
      throw InputError(file_, "/", "nested deeper than " + std::to_string(kMaxJsonDepth) +
                                          " levels: expected a shallower JSON document");
    open_.push_back({object, {}, 0, ""});
    return true;
  }
  static constexpr size_t kMaxJsonDepth = 256;
  bool close() {
    open_.pop_back();
    return true;
  }
  // The path of the object being read (its own key or index is not yet part of it).
  std::string path() const {
    std::string p;
    for (size_t i = 0; i + 1 < open_.size(); ++i) p += "/" + open_[i].at;
    return p.empty() ? "/" : p;
  }
  const std::string& file_;
  std::vector<OpenValue> open_;
};
}  // namespace

Json parse_json_text(const std::string& text, const std::string& file_label) {
  try {
    DuplicateKeys check(file_label);
    Json::sax_parse(text, &check);
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw InputError(file_label, "", "malformed JSON at byte " + std::to_string(e.byte) +
                                         ": expected a valid JSON document");
  } catch (const Json::out_of_range&) {  // a number beyond double, e.g. 1e400 (error 406)
    throw InputError(file_label, "", "malformed JSON: a number is out of range (expected a finite number)");
  }
}

std::string read_input_file(const std::string& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw InputError(file, "", "is a directory: expected a JSON file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file, "", "cannot open the file for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Json parse_json_file(const std::string& file) {
  return parse_json_text(read_input_file(file), file);
}

std::string describe_json(const Json& j) {
  std::string dump = j.dump();
  if (dump.size() > 40) dump = dump.substr(0, 37) + "...";
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean (" + dump + ")";
    case Json::value_t::string: return "a string (" + dump + ")";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer (" + dump + ")";
    case Json::value_t::number_float: return "a number (" + dump + ")";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "a value of another type";
  }
}

JsonObject::JsonObject(const Json& j, std::string file, std::string path)
    : j_(&j), file_(std::move(file)), path_(std::move(path)) {
  if (!j.is_object())
    throw InputError(file_, path_.empty() ? "/" : path_, "expected an object, found " + describe_json(j));
}

bool JsonObject::has(const std::string& key) const {
  auto it = j_->find(key);
  return it != j_->end() && !it->is_null();
}

bool JsonObject::present(const std::string& key) const { return j_->find(key) != j_->end(); }

void JsonObject::fail(const std::string& key, const std::string& message) const {
  throw InputError(file_, key.empty() ? (path_.empty() ? "/" : path_) : path_of(key), message);
}

double JsonObject::in_range(const std::string& key, double v, double lo, double hi, const char* what) const {
  if (!(v >= lo && v <= hi)) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "expected %s from %g to %g, found %g", what, lo, hi, v);
    fail(key, msg);
  }
  return v;
}

const Json& JsonObject::at(const std::string& key, const char* expected) const {
  auto it = j_->find(key);
  if (it == j_->end() || it->is_null())
    fail(key, std::string("missing required field: expected ") + expected);
  return *it;
}

const Json& JsonObject::raw(const std::string& key) const { return at(key, "a value"); }

int64_t JsonObject::get_int(const std::string& key) const {
  const Json& v = at(key, "an integer");
  if (v.is_number_integer() || v.is_number_unsigned()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      fail(key, "expected an integer below 2^63, found " + describe_json(v));
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
  }
  fail(key, "expected an integer, found " + describe_json(v));
}

double JsonObject::get_number(const std::string& key) const {
  const Json& v = at(key, "a number");
  if (!v.is_number()) fail(key, "expected a number, found " + describe_json(v));
  double d = v.get<double>();
  if (!std::isfinite(d)) fail(key, "expected a finite number");
  return d;
}

std::string JsonObject::get_string(const std::string& key) const {
  const Json& v = at(key, "a string");
  if (!v.is_string()) fail(key, "expected a string, found " + describe_json(v));
  return v.get<std::string>();
}

bool JsonObject::get_bool(const std::string& key) const {
  const Json& v = at(key, "a boolean");
  if (!v.is_boolean()) fail(key, "expected a boolean (true or false), found " + describe_json(v));
  return v.get<bool>();
}

JsonObject JsonObject::get_object(const std::string& key) const {
  return JsonObject(at(key, "an object"), file_, path_of(key));
}

int64_t JsonObject::get_int(const std::string& key, int64_t def) const {
  return has(key) ? get_int(key) : def;
}
double JsonObject::get_number(const std::string& key, double def) const {
  return has(key) ? get_number(key) : def;
}
std::string JsonObject::get_string(const std::string& key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}
bool JsonObject::get_bool(const std::string& key, bool def) const {
  return has(key) ? get_bool(key) : def;
}

int64_t JsonObject::get_positive_int(const std::string& key) const {
  int64_t v = get_int(key);
  if (v <= 0) fail(key, "expected a positive integer, found " + std::to_string(v));
  return v;
}
int64_t JsonObject::get_positive_int(const std::string& key, int64_t def) const {
  return has(key) ? get_positive_int(key) : def;
}
double JsonObject::get_positive_number(const std::string& key) const {
  double v = get_number(key);
  if (!(v > 0)) fail(key, "expected a positive number, found " + raw(key).dump());
  return v;
}
double JsonObject::get_positive_number(const std::string& key, double def) const {
  return has(key) ? get_positive_number(key) : def;
}

std::string JsonObject::get_enum(const std::string& key, const std::vector<std::string>& allowed,
                                 const std::string& def) const {
  std::string v = def.empty() ? get_string(key) : get_string(key, def);
  for (const auto& a : allowed)
    if (a == v) return v;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + ("\"" + a + "\"");
  std::string msg = "expected one of " + list + ", found \"" + v + "\"";
  std::string near = closest_match(v, allowed);
  if (!near.empty()) msg += " (did you mean \"" + near + "\"?)";
  fail(key, msg);
}

void JsonObject::reject_unknown(const std::vector<std::string>& known) const {
  for (auto it = j_->begin(); it != j_->end(); ++it) {
    bool ok = false;
    for (const auto& k : known) ok = ok || (k == it.key());
    if (ok) continue;
    std::string msg = "unknown field \"" + it.key() + "\"";
    std::string near = closest_match(it.key(), known);
    if (!near.empty()) msg += " (did you mean \"" + near + "\"?)";
    fail(it.key(), msg);
  }
}

}  // namespace shardplan
