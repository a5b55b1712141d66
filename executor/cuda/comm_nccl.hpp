// The NCCL communicator: one process per GPU, one NCCL communicator per process group, split
// from the world communicator with ncclCommSplit. Pipeline point-to-point messages travel on
// dedicated two-rank communicators and streams (one per direction of each link), so a send never
// queues behind a receive: the interface's buffered-send promise, which the pipeline schedules
// rely on. A watchdog thread bounds every NCCL operation: when one fails asynchronously or does
// not finish within `timeout`, it calls ncclCommAbort on every communicator of the process, and
// the rank's next call throws a CudaError that says which operation and why. Every rank of a
// hung collective thus ends with a clear error within `timeout` (plus the watchdog's 50 ms poll).
#pragma once
#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "executor/cuda/comm_device.hpp"

namespace shardplan::executor::cuda {

struct NcclId {  // ncclUniqueId's bytes, to pass between processes
  std::array<char, 128> bytes{};
};

// A directed point-to-point link: the messages from world rank src to dst whose tag % channels
// is `channel` travel on it, in the order sent, all of one size; the receiver reads each
// message's tag and keeps the ones that arrive before the one it wants.
struct P2PLink {
  int src = 0, dst = 0, channel = 0;
  bool operator==(const P2PLink&) const = default;
};

bool nccl_built();           // false: this build has no NCCL; everything below throws
std::string nccl_version();  // "2.28.9", or why there is none
NcclId nccl_unique_id();     // ncclGetUniqueId

// Times a bf16 all-reduce over GPUs 0..devices-1 from this process (ncclCommInitAll), for each
// size in `bytes` (per rank): the median of repetitions of at least `seconds` in all. Returns
// seconds per size. For calibration; needs at least two GPUs.
std::vector<double> nccl_all_reduce_times(int devices, const std::vector<int64_t>& bytes,
                                          double seconds);

class NcclWorld {
 public:
  // Joins the world (collective: every rank calls it with the same id and size) on the current
  // device, ordering its work on `s`. Initialisation is bounded by `timeout` too.
  NcclWorld(const NcclId& id, int world_size, int rank, Stream s,
            std::chrono::milliseconds timeout);
  ~NcclWorld();
  NcclWorld(const NcclWorld&) = delete;
  NcclWorld& operator=(const NcclWorld&) = delete;

  int rank() const;
  int size() const;
  // A handle on the whole world (its send/recv use the links of connect_pairs).
  std::unique_ptr<DeviceComm> world();
  // Collective over the world: every rank passes the members (ascending world ranks) of the
  // group it belongs to in this call, or an empty list (nullptr back) when it is in none.
  std::unique_ptr<DeviceComm> split(const std::vector<int>& members);
  // Collective over the world: every rank passes the same list of links and channel count;
  // afterwards send and recv between two ranks use the link of the message's channel.
  void connect_pairs(const std::vector<P2PLink>& links, int channels);
  // Throws the watchdog's error once it has aborted the communicators.
  void check() const;
  bool failed() const;
  std::string failure() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace shardplan::executor::cuda
