// Why the best plan beats the runner-up (the breakdown terms that differ), and when nothing
// fits, the smallest change that would.
#pragma once
#include <string>
#include <vector>

#include "planner/search.hpp"

namespace shardplan {

std::vector<std::string> explain_difference(const Candidate& best, const Candidate& other);
std::vector<std::string> suggest_when_nothing_fits(const SearchResult& r, const ClusterSpec& cluster,
                                                   const SearchOptions& o);

}  // namespace shardplan
