// InputError formatting and the edit distance behind "did you mean".
#include "core/error.hpp"

#include <algorithm>

namespace shardplan {

namespace {
std::string format_input_error(const std::string& file, const std::string& path,
                               const std::string& message) {
  std::string out = file.empty() ? std::string("<input>") : file;
  out += ": at ";
  out += path.empty() ? "/" : path;
  out += ": ";
  out += message;
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

InputError::InputError(std::string file, std::string json_path, std::string message)
    : std::runtime_error(format_input_error(file, json_path, message)),
      file_(std::move(file)),
      json_path_(std::move(json_path)),
      message_(std::move(message)) {}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = word.size() / 2 + 2;  // farther than this is not a plausible typo
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d || (d == best_d && !best.empty() && c < best)) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace shardplan
