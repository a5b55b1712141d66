// Shared by the two multi-process launchers (launch.cpp: this program forks the ranks;
// launch_external.cpp: mpirun, PMI or torchrun started them): one rank's run and its text report.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "executor/cuda/comm_nccl.hpp"
#include "executor/run.hpp"

namespace shardplan::executor::cuda {

// Trains `rank` of `nproc` on GPU `device` (one of `local_ranks` on this host, which must have
// as many GPUs); `share_id` gets the NCCL unique id rank 0 made (on rank 0) and hands it on, or
// fills it in (on the others). Returns the rank's report as text lines ("step", "mem", "device",
// "ok"); throws on failure.
std::string run_rank(const RunOptions& o, int rank, int nproc, int device, int local_ranks,
                     const std::function<void(NcclId&)>& share_id, std::chrono::seconds timeout);

// One rank's text report into `r` (losses, norms and times from rank 0 only).
void parse_report(const std::string& text, int rank, RunReport& r);

// The reason a rank's text report gives for failing ("error <reason>"), without trailing
// newlines; "" when it gives none.
std::string report_error(const std::string& text);

// The report of a run from every rank's text, in rank order.
RunReport report_of(const RunOptions& o, const std::vector<std::string>& texts);

}  // namespace shardplan::executor::cuda
