// The estimate JSON contract (docs/estimate-format.md) and the readable summary.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "core/strategy.hpp"
#include "costmodel/estimate.hpp"

namespace shardplan::cli {

nlohmann::ordered_json strategy_json(const Strategy& s);
nlohmann::ordered_json estimate_json(const Estimate& e, const Strategy& s, const OpGraph& g);
// analytic_step_s > 0: the breakdown's terms are shown against it (simulate, whose step differs).
std::string estimate_text(const Estimate& e, const Strategy& s, const ClusterSpec& c, const OpGraph& g,
                          double analytic_step_s = 0);

}  // namespace shardplan::cli
