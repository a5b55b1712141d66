// Re-ranks the planner's top K by the discrete-event simulator's step time (the detailed
// prediction); the analytic estimate stays the fast screen.
#pragma once
#include <functional>

#include "planner/search.hpp"

namespace shardplan::cli {

void rerank_with_simulator(std::vector<Candidate>& top, const OpGraph& g, const ClusterSpec& cluster,
                           Objective objective, const std::function<void(double)>& progress = {});

}  // namespace shardplan::cli
