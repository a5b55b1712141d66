// The HTML report of a search: one self-contained file (inline CSS and SVG, no script, nothing
// fetched) with the Pareto front of feasible plans, the ranked table, and the chosen plan's
// memory per stage and simulated pipeline timeline. Rendering is pure: data in, bytes out.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/hardware.hpp"
#include "planner/search.hpp"
#include "simulator/simulate.hpp"

namespace shardplan {

struct ReportData {
  std::string title;     // "gpt3-175b on 1024 x a100-80g (dgx-a100)"
  std::string subtitle;  // "global batch 1536 x 2048 tokens, objective time"
  ClusterSpec cluster;
  double usable_bytes = 0;        // GPU memory less the search's headroom
  std::vector<Candidate> ranked;  // best first
  std::vector<Candidate> front;   // Pareto front, memory ascending (SearchResult::pareto_front)
  std::string colour_by;          // the strategy field that colours the front
  int64_t considered = 0, feasible = 0;
  bool timed_out = false;  // the search stopped at --time-limit: its best so far
  std::vector<std::pair<std::string, int64_t>> rejected;  // reason, count
  Candidate chosen;  // the plan shown in detail (estimate with per-stage memory)
  std::vector<std::string> chunk_names;  // per chunk c: "embedding..layer11"
  SimResult sim;                         // the chosen plan simulated with record_trace
};

std::string render_report_html(const ReportData& d);

// The strategy field ("pp", "tp", "zero", ...) with the most distinct values along the front.
std::string most_varied_field(const std::vector<Candidate>& front);
// That field's value as text ("4", "selective").
std::string field_value(const Strategy& s, const std::string& field);

}  // namespace shardplan
