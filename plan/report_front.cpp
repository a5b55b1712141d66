// How the report colours the Pareto front (which search() returns with its strategies, under
// SearchOptions::keep_pareto_strategies): the strategy field that varies most along it.
#include <algorithm>

#include "plan/report.hpp"

namespace shardplan {

std::string field_value(const Strategy& s, const std::string& f) {
  if (f == "tp") return std::to_string(s.tp);
  if (f == "pp") return std::to_string(s.pp);
  if (f == "dp") return std::to_string(s.dp);
  if (f == "cp") return std::to_string(s.cp);
  if (f == "ep") return std::to_string(s.ep);
  if (f == "vp") return std::to_string(s.vp);
  if (f == "zero") return std::to_string(s.zero);
  if (f == "recompute") return recompute_name(s.recompute);
  if (f == "micro_batch") return std::to_string(s.micro_batch);
  if (f == "schedule") return schedule_name(s.schedule);
  return "";
}

std::string most_varied_field(const std::vector<Candidate>& front) {
  // In order of preference on ties: the splits first, then the memory savers.
  static const char* fields[] = {"pp", "tp",   "dp",        "cp",          "ep",
                                 "vp", "zero", "recompute", "micro_batch", "schedule"};
  std::string best = "pp";
  size_t best_count = 0;
  for (const char* f : fields) {
    std::vector<std::string> values;
    for (const auto& c : front) values.push_back(field_value(c.strategy, f));
    std::sort(values.begin(), values.end());
    const size_t n =
        static_cast<size_t>(std::unique(values.begin(), values.end()) - values.begin());
    if (n > best_count) best = f, best_count = n;
  }
  return best;
}

}  // namespace shardplan
