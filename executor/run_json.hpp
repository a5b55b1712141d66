// A run's options and its report as JSON text: how the CLI hands a run to the CUDA executor's
// program (shardplan-cuda run) and reads its report back, and how that program's launcher hands
// the options to each rank's process. Bad text throws InputError naming `file` and the JSON path.
#pragma once
#include <string>

#include "executor/run.hpp"

namespace shardplan::executor {

std::string run_options_to_json(const RunOptions& o);
RunOptions run_options_from_json(const std::string& text, const std::string& file);

std::string run_report_to_json(const RunReport& r);
RunReport run_report_from_json(const std::string& text, const std::string& file);

}  // namespace shardplan::executor
