// When nothing fits: the closest miss, and the changes to the problem that make something fit,
// each checked by searching the changed problem (never a rule of thumb).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "planner/search.hpp"

namespace shardplan {

struct Suggestion {
  std::string change;  // the command-line change, e.g. "--gpus 128 (now 64)"
  Candidate best;      // the best plan of the changed problem
  int64_t gpus = 0;    // the changed problem's GPU count (for the plan's rendering)
};

struct NothingFits {
  std::vector<std::string> diagnosis;    // what is wrong with the closest miss, or why none is valid
  std::vector<Suggestion> suggestions;   // cheapest first: flags, GPUs, less headroom, 16-bit gradients, a smaller batch
  bool cut_short = false;                // the time budget ran out before every change was tried
};

// `base` is the cluster as loaded (before its GPU count is set), so that larger GPU counts keep
// its node size. Each trial search keeps `space` and `o` but for the one change, runs at most
// `trial_time_s`, and keeps its top plan only; the trials stop after `budget_s` in all.
NothingFits advise_when_nothing_fits(const OpGraph& g, const ClusterSpec& base, const SearchSpace& space,
                                     const SearchOptions& o, const SearchResult& r, double trial_time_s = 2,
                                     double budget_s = 8);

}  // namespace shardplan
