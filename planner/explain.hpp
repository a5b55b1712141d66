// Why the best plan beats the runner-up: the step-time terms that differ (time and cost
// objectives), or the memory terms of the peak stage (memory objective).
#pragma once
#include <string>
#include <vector>

#include "planner/search.hpp"

namespace shardplan {

std::vector<std::string> explain_difference(const Candidate& best, const Candidate& other,
                                            Objective objective = Objective::time);

}  // namespace shardplan
