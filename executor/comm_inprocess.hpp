// The in-process communicator: ranks are std::threads of one process sharing memory. Collectives
// meet at a per-group barrier and read each other's buffers; sums run in group-rank order, so
// results are bit-identical from run to run. Sends are buffered in a shared mailbox.
// Waiting spins, then blocks (NCCL kernels and MPI progress engines poll too): a rank that blocks
// on a condition variable after computing must be woken (futex) and scheduled onto a core again,
// tens to hundreds of microseconds on a VM against a few for a rank that polls (bench_comm
// measures both), so a rank polls for `spin` before it sleeps. With more ranks than cores polling
// would take the core from a rank that has work, so the default spins only when every rank can
// have a core (other processes' load is not known; the spin is kept short for that reason).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "executor/comm.hpp"

namespace shardplan::executor {

// Thrown in every waiting rank once another rank has failed and aborted the world.
class CommAborted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InProcessWorld {
 public:
  // `timeout` bounds every wait, so a mismatched collective or schedule reports instead of hanging.
  // `spin`: how long a waiting rank polls before it blocks; kAutoSpin picks default_spin().
  static constexpr std::chrono::microseconds kAutoSpin{-1};
  explicit InProcessWorld(int world_size, std::chrono::seconds timeout = std::chrono::seconds(300),
                          std::chrono::microseconds spin = kAutoSpin);
  // 200 us when world_size ranks fit on the machine's cores, else 0 (block at once). Longer spins
  // cost a rank whose peer shares its core (another process took the other one) a spin per wait.
  static std::chrono::microseconds default_spin(int world_size);
  ~InProcessWorld();
  int world_size() const { return world_size_; }
  // A handle for `world_rank` on the group `members` (world ranks, ascending). Thread-safe; every
  // member asking for the same list shares one group.
  std::unique_ptr<Communicator> communicator(const std::vector<int>& members, int world_rank);
  // Wakes every waiting rank, which then throws CommAborted(why).
  void abort(const std::string& why);

  struct Group;
  struct Mailbox;
  bool aborted() const { return aborted_.load(); }
  std::string abort_reason() const;
  std::chrono::seconds timeout() const { return timeout_; }
  std::chrono::microseconds spin() const { return spin_; }
  Mailbox& mailbox() { return *mailbox_; }

 private:
  int world_size_;
  std::chrono::seconds timeout_;
  std::chrono::microseconds spin_;
  std::atomic<bool> aborted_{false};
  mutable std::mutex mu_;
  std::string abort_reason_;
  std::map<std::vector<int>, std::shared_ptr<Group>> groups_;
  std::unique_ptr<Mailbox> mailbox_;
};

struct InProcessWorld::Group {
  explicit Group(std::vector<int> m);
  std::vector<int> members;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  std::atomic<uint64_t> generation{0};  // written under mu; polled without it while spinning
  std::vector<const void*> in;   // posted by each rank before the first barrier of a collective
  std::vector<void*> out;
  std::vector<int64_t> count;
  std::vector<std::vector<std::byte>> scratch;  // per-rank staging for all_reduce
};

struct InProcessWorld::Mailbox {
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> sends{0};  // messages posted so far: a spinning recv polls it, not the map
  // (src world rank, dst world rank, tag) -> messages in send order
  std::map<std::tuple<int, int, int64_t>, std::deque<std::vector<std::byte>>> queues;
};

}  // namespace shardplan::executor
