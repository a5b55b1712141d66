// Ranks started by someone else (mpirun, srun, torchrun), one process each on any host, finding
// each other: which rank this process is (launch_env), and a TCP rendezvous at rank 0's address
// through which rank 0 hands every rank a blob (the NCCL unique id) and collects one text from
// each (its report). No MPI library: OpenMPI's mpirun sets OMPI_COMM_WORLD_RANK / _SIZE /
// _LOCAL_RANK / _LOCAL_SIZE, MPICH and Slurm's PMI set PMI_RANK / PMI_SIZE (MPI_LOCALRANKID),
// torchrun sets RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE; MASTER_ADDR and MASTER_PORT
// (torchrun's names; `mpirun -x MASTER_ADDR=<host of rank 0> -x MASTER_PORT=29500`) say where
// rank 0 listens.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace shardplan::executor {

struct LaunchEnv {
  int rank = 0, size = 1;            // in the whole job
  int local_rank = 0, local_size = 1;  // on this host: the GPU this rank takes
  std::string launcher;              // "mpirun (OpenMPI)", "PMI", "torchrun"
  std::string master_addr;           // rank 0's host
  int master_port = 0;
};

// The job this process was started in, from environment variables (`getenv` is std::getenv
// unless a test gives another); nullopt when none names a world of two or more ranks. Throws
// std::runtime_error for a world without MASTER_ADDR / MASTER_PORT or with inconsistent values.
std::optional<LaunchEnv> launch_env(const std::function<const char*(const char*)>& getenv = nullptr);

class Rendezvous {
 public:
  // Rank 0 listens on env.master_port (every interface); the others connect to
  // env.master_addr:master_port, retrying until `timeout` (rank 0 may start later). Throws
  // std::runtime_error when the ranks do not meet within `timeout`.
  Rendezvous(const LaunchEnv& env, std::chrono::seconds timeout);
  ~Rendezvous();
  Rendezvous(const Rendezvous&) = delete;
  Rendezvous& operator=(const Rendezvous&) = delete;

  // What rank 0 passes, on every rank (the others' argument is ignored).
  std::string broadcast(const std::string& from_rank0);
  // Every rank's text on rank 0, in rank order; {} on the others. A rank that is gone before
  // it sent gives "error rank R left without a report".
  std::vector<std::string> gather(const std::string& text);

 private:
  void meet();
  void close_all();
  LaunchEnv env_;
  std::chrono::seconds timeout_;
  int listen_fd_ = -1;
  std::vector<int> peers_;  // rank 0: the socket of rank r at [r] (-1 at 0); others: [0] only
};

}  // namespace shardplan::executor
