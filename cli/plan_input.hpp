// A plan file as the commands that take one read it: parsed, its graph built, and re-estimated as
// written (its own pipeline cut: the planner may have cut for memory), so `check`, `emit` and
// `report` accept and refuse the same files.
#pragma once
#include <string>

#include "costmodel/estimate.hpp"
#include "plan/plan.hpp"

namespace shardplan::cli {

struct LoadedPlan {
  Plan plan;
  OpGraph graph;
  Estimate estimate;
};

// InputError (file, JSON path, what was expected) for an unreadable plan or a strategy the cost
// model rejects.
LoadedPlan load_plan(const std::string& file);

}  // namespace shardplan::cli
