// Re-ranks the planner's best candidates by the discrete-event simulator's step time (the detailed
// prediction); the analytic estimate stays the fast screen. The search keeps a pool of at least
// kSimulatedPool candidates whatever --top asks for (search_options_from), so the plans shown,
// and the best one, do not depend on --top.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "planner/search.hpp"

namespace shardplan::cli {

inline constexpr int64_t kSimulatedPool = 10;

// Simulates every candidate of `top`, sorts them (time and cost objectives), keeps the first `keep`.
void rerank_with_simulator(std::vector<Candidate>& top, const OpGraph& g, const ClusterSpec& cluster,
                           Objective objective, size_t keep, const std::function<void(double)>& progress = {});

}  // namespace shardplan::cli
