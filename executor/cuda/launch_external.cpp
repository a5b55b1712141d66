// Ranks started by mpirun, PMI or torchrun (run_cuda.hpp train_launched): each process trains its
// rank on its host's GPU `local_rank`; the NCCL unique id and the reports go through the TCP
// rendezvous at MASTER_ADDR:MASTER_PORT (executor/rendezvous.hpp).
#include <cstring>
#include <stdexcept>

#include "executor/cuda/launch_internal.hpp"
#include "executor/cuda/run_cuda.hpp"
#include "executor/rendezvous.hpp"

namespace shardplan::executor::cuda {

std::optional<RunReport> train_launched(const RunOptions& o, const LaunchEnv& env, std::chrono::seconds timeout) {
  const Strategy& s = o.strategy;
  const int64_t world = s.dp * s.tp * s.pp;
  if (const std::string why = cuda_unsupported_reason(o, static_cast<int>(world)); !why.empty())
    throw std::runtime_error("cannot run this plan: " + why);
  if (env.size != world)
    throw std::runtime_error(env.launcher + " started " + std::to_string(env.size) + " ranks; the plan has dp*tp*pp = " +
                             std::to_string(world));
  Rendezvous rv(env, timeout);
  bool shared = false;
  auto share = [&](NcclId& id) {
    const std::string got = rv.broadcast(std::string(id.bytes.data(), id.bytes.size()));
    shared = true;
    if (got.rfind("error ", 0) == 0) throw std::runtime_error("rank 0 failed: " + got.substr(6));
    if (got.size() != id.bytes.size()) throw std::runtime_error("rendezvous: the NCCL id came in " + std::to_string(got.size()) + " bytes");
    std::memcpy(id.bytes.data(), got.data(), got.size());
  };
  std::string text;
  try {
    text = run_rank(o, env.rank, env.size, env.local_rank, env.local_size, share, timeout);
  } catch (const std::exception& e) {
    text = std::string("error ") + e.what() + "\n";
    // Rank 0 failing before the id went out tells the others at once, not after `timeout`
    // (best effort: a rank that failed on its own may be gone already).
    if (env.rank == 0 && !shared) {
      try {
        rv.broadcast(text);
      } catch (const std::exception&) {
      }
    }
  }
  const std::string own = report_error(text);
  const bool failed = !own.empty();
  std::vector<std::string> all;
  try {
    all = rv.gather(text);
  } catch (const std::exception&) {
    if (failed) throw std::runtime_error("rank " + std::to_string(env.rank) + ": " + own);
    throw;
  }
  if (env.rank != 0) {
    if (failed) throw std::runtime_error("rank " + std::to_string(env.rank) + ": " + own);
    return std::nullopt;
  }
  for (size_t r = 0; r < all.size(); ++r)
    if (const std::string why = report_error(all[r]); !why.empty())
      throw std::runtime_error("rank " + std::to_string(r) + ": " + why);
  return report_of(o, all);
}

}  // namespace shardplan::executor::cuda
