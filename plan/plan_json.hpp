// The plan file's sections as JSON (internal to plan/): the writer builds every section from a
// Plan; the reader parses the input sections and checks the derived ones against these.
#pragma once
#include <nlohmann/json.hpp>

#include "plan/plan.hpp"

namespace shardplan::plan_json {

using OJ = nlohmann::ordered_json;

OJ strategy(const Strategy& s);
OJ cluster(const ClusterSpec& c);
// The whole document, in file order.
OJ document(const Plan& p);

}  // namespace shardplan::plan_json
