// The local communicator: every rank of a plan as a thread of one process on one GPU, each with
// its own stream, so TP/PP/DP numerics can be checked on a single device. Host-side agreement
// (barriers, pointer exchange, mailbox, abort, timeouts) reuses the CPU backend's InProcessWorld;
// the data moves by device copies and a reduction kernel. Sums run in group-rank order with a
// float (double for f64) accumulator, like the CPU backend's, so results are bit-reproducible.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "executor/comm_inprocess.hpp"
#include "executor/cuda/comm_device.hpp"

namespace shardplan::executor::cuda {

class LocalCudaWorld {
 public:
  explicit LocalCudaWorld(int world_size, std::chrono::seconds timeout = std::chrono::seconds(300));
  int world_size() const { return host_.world_size(); }
  // A handle for `world_rank` on the group `members` (world ranks, ascending), ordered on `s`.
  // Call from the rank's thread after use_device().
  std::unique_ptr<DeviceComm> communicator(const std::vector<int>& members, int world_rank,
                                           Stream s);
  // Wakes every waiting rank, which then throws CommAborted(why).
  void abort(const std::string& why) { host_.abort(why); }

 private:
  InProcessWorld host_;
};

}  // namespace shardplan::executor::cuda
