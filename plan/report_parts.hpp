// The report's figures (internal to plan/), each an inline <svg> element.
#pragma once
#include <string>

#include "plan/report.hpp"

namespace shardplan::report {

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Step time against peak memory per GPU: the front coloured by d.colour_by, the ranked plans,
// the usable-memory line and the chosen plan ringed.
std::string pareto_svg(const ReportData& d);
// The chosen plan's memory per pipeline stage, stacked by kind, against the GPU's capacity, with
// the simulator's peak per stage marked.
std::string memory_svg(const ReportData& d);
// The chosen plan's simulated step as a Gantt chart: per stage, its compute stream (F, B, W,
// recompute, optimizer) and below it its data-parallel communication.
std::string timeline_svg(const ReportData& d);

}  // namespace shardplan::report
