// Errors a person can act on: which file, which JSON path, what was expected, what was found.
// Library code throws InputError (bad input, exit 2) or returns an Infeasible reason; only cli/ prints.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace shardplan {

// Bad input: a file, a JSON path inside it, and a message ("expected ..., found ...").
class InputError : public std::runtime_error {
 public:
  InputError(std::string file, std::string json_path, std::string message);
  const std::string& file() const { return file_; }
  const std::string& json_path() const { return json_path_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_, json_path_, message_;
};

// A plain usage error (a flag combination that cannot work); also exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "did you mean" support: the candidate closest to `word` by edit distance, or "" if none is close.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace shardplan
