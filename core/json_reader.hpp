// Reading JSON with a path: every accessor knows the file and the JSON pointer it reads, so every
// error says where and what was expected. Include only from .cpp files (nlohmann/json is heavy).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace shardplan {

using Json = nlohmann::json;

// Parses a file (or text) into JSON; malformed JSON becomes an InputError with the byte offset, a
// key repeated in one object an InputError at that object's path (nlohmann would keep the last).
Json parse_json_file(const std::string& file);
Json parse_json_text(const std::string& text, const std::string& file_label);
// The whole file; a directory or a file that cannot be opened is an InputError naming it.
std::string read_input_file(const std::string& file);

// A view of one JSON object at a path. Tracks the keys read so unknown keys can be reported.
class JsonObject {
 public:
  JsonObject(const Json& j, std::string file, std::string path);

  bool has(const std::string& key) const;      // present and not null
  bool present(const std::string& key) const;  // present, null included
  // Required fields.
  int64_t get_int(const std::string& key) const;
  double get_number(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  JsonObject get_object(const std::string& key) const;
  // Optional fields: the default when absent (or JSON null).
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_number(const std::string& key, double def) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  bool get_bool(const std::string& key, bool def) const;
  // A positive integer (> 0), required or with a default.
  int64_t get_positive_int(const std::string& key) const;
  int64_t get_positive_int(const std::string& key, int64_t def) const;
  double get_positive_number(const std::string& key) const;
  double get_positive_number(const std::string& key, double def) const;
  // One of the allowed strings.
  std::string get_enum(const std::string& key, const std::vector<std::string>& allowed,
                       const std::string& def) const;
  const Json& raw(const std::string& key) const;
  const Json& json() const { return *j_; }

  // Any key not in `known` is an error, with "did you mean".
  void reject_unknown(const std::vector<std::string>& known) const;

  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  // `v`, read from `key`, when within [lo, hi]; otherwise fails with "expected <what> from lo to
  // hi, found v" (NaN included): a value that parses but is no physical figure.
  double in_range(const std::string& key, double v, double lo, double hi, const char* what) const;
  std::string path_of(const std::string& key) const { return path_ + "/" + key; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  const Json& at(const std::string& key, const char* expected) const;
  const Json* j_;
  std::string file_, path_;
};

// "an integer", "a string", ... for the JSON value found.
std::string describe_json(const Json& j);

}  // namespace shardplan
