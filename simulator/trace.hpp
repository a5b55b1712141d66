// Chrome / Perfetto trace export of a simulated step (Trace Event Format): one process per
// simulated GPU, one thread per stream, "X" events for tasks and "C" counters for memory.
#pragma once
#include <string>

#include "simulator/simulate.hpp"

namespace shardplan {

// {"traceEvents":[...]} with times in microseconds (3 decimals, i.e. ns resolution); the same
// SimResult gives the same bytes. Empty trace (record_trace off): metadata only.
std::string chrome_trace_json(const SimResult& result);

}  // namespace shardplan
