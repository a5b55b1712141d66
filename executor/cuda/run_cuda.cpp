// run_training_cuda and the one-process run: a thread per rank on GPU 0, each with its own
// stream and cuBLAS handle, over the local communicator. A failing rank aborts the world so the
// others stop instead of hanging (as the CPU backend's run.cpp).
#include "executor/cuda/run_cuda.hpp"

#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "executor/cuda/comm_local.hpp"
#include "executor/cuda/comm_nccl.hpp"
#include "executor/cuda/trainer.hpp"

namespace shardplan::executor {

std::string cuda_unsupported_reason(const RunOptions& o, int nproc) {
  std::string cpu = unsupported_reason(o);
  if (!cpu.empty()) {  // the CPU backend's wording names itself; this is the CUDA one
    const std::string cpu_name = "the CPU executor";
    if (auto at = cpu.find(cpu_name); at != std::string::npos)
      cpu.replace(at, cpu_name.size(), "the CUDA executor");
    return cpu;
  }
  const ModelSpec& m = o.model;
  const Strategy& s = o.strategy;
  if (!o.checkpoint_dir.empty() || o.resume)
    return "checkpoints are not supported by the CUDA executor yet";
  if (s.flash_attention && (m.head_dim % 8 != 0 || m.head_dim > 128))
    return "the CUDA executor's fused attention needs head_dim a multiple of 8 up to 128 (found " +
           std::to_string(m.head_dim) + "); plan with flash_attention off for unfused attention";
  if (nproc < 1) return "nproc must be at least 1";
  const int64_t world = s.dp * s.tp * s.pp;
  if (nproc > 1 && nproc != world)
    return "nproc (" + std::to_string(nproc) + ") must be 1 (every rank on one GPU) or dp*tp*pp (" +
           std::to_string(world) + ", one process per GPU)";
  if (nproc > 1 && !cuda::nccl_built())
    return "this build has no NCCL, which nproc > 1 needs (run with nproc 1, or reconfigure with "
           "NCCL)";
  return "";
}

RunReport run_training_cuda(const RunOptions& options, int nproc, std::chrono::seconds comm_timeout,
                            const std::string& worker_exe) {
  const std::string problem = cuda_unsupported_reason(options, nproc);
  if (!problem.empty()) throw std::runtime_error("cannot run this plan: " + problem);
  if (nproc == 1) return cuda::train_local(options, nullptr, AdamWConfig(), comm_timeout);
  return cuda::train_multiprocess(options, nproc, comm_timeout, worker_exe);
}

}  // namespace shardplan::executor

namespace shardplan::executor::cuda {

double typical_step_time(const std::vector<double>& t) {
  if (t.empty()) return 0;
  const size_t skip = t.size() > 1 ? 1 : 0;
  return std::accumulate(t.begin() + skip, t.end(), 0.0) / double(t.size() - skip);
}

namespace {
struct StreamGuard {
  Stream s = create_stream();
  ~StreamGuard() { destroy_stream(s); }
};
}  // namespace

RunReport train_local(const RunOptions& o, ParamStore<float>* final_params,
                      const AdamWConfig& adamw, std::chrono::seconds comm_timeout) {
  const std::string problem = cuda_unsupported_reason(o, 1);
  if (!problem.empty()) throw std::runtime_error("cannot run this plan: " + problem);
  const std::string gpu = no_gpu_reason();
  if (!gpu.empty()) throw std::runtime_error("cannot run on the CUDA backend: " + gpu);
  const Strategy& s = o.strategy;
  const TrainConfig cfg = train_config(o, adamw);
  const int64_t seq = s.seq_len_or(o.model.seq_len);
  const RankLayout layout{static_cast<int>(s.dp), static_cast<int>(s.pp), static_cast<int>(s.tp)};
  const int world_size = layout.world_size();
  use_device(0);
  reset_pool_peak(0);
  LocalCudaWorld world(world_size, comm_timeout);

  RunReport report;
  report.peak_bytes_per_rank.resize(world_size);
  std::mutex mu;
  std::string first_error;
  int first_error_rank = -1;

  auto body = [&](int rank) {
    use_device(0);
    StreamGuard stream;
    Blas blas(stream.s);
    CudaRankComms comms;
    comms.world = world.communicator(layout.world_group(), rank, stream.s);
    comms.tp = world.communicator(layout.tp_group(rank), rank, stream.s);
    comms.dp = world.communicator(layout.dp_group(rank), rank, stream.s);
    const RankCoords at = layout.coords(rank);
    if (o.model.tied_embeddings && s.pp > 1 && (at.pp == 0 || at.pp == s.pp - 1))
      comms.emb = world.communicator(layout.embedding_group(rank), rank, stream.s);
    MemoryTracker mem;
    CudaRankTrainer trainer(cfg, rank, std::move(comms), mem, stream.s, blas);
    std::vector<double> losses, norms, times;
    trainer.world().barrier();
    for (int64_t step = 0; step < o.steps; ++step) {
      const auto t0 = std::chrono::steady_clock::now();
      losses.push_back(trainer.train_step(step));
      norms.push_back(trainer.last_grad_norm());
      trainer.world().barrier();  // every rank's step, optimizer included, has finished
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    if (final_params) trainer.export_params(*final_params);
    synchronize(stream.s);
    std::lock_guard<std::mutex> lock(mu);
    report.peak_bytes_per_rank[rank] = mem.snapshot(rank);
    if (rank == 0) {
      report.losses = losses;
      report.grad_norms = norms;
      report.step_times_s = times;
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < world_size; ++r)
    threads.emplace_back([&, r] {
      try {
        body(r);
      } catch (const CommAborted&) {
        // another rank failed first; its error is the one reported
      } catch (const std::exception& e) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error_rank < 0) first_error_rank = r, first_error = e.what();
        }
        world.abort(std::string("rank ") + std::to_string(r) + " failed: " + e.what());
      }
    });
  for (auto& t : threads) t.join();
  if (first_error_rank >= 0)
    throw std::runtime_error(world_size == 1
                                 ? first_error
                                 : "rank " + std::to_string(first_error_rank) + ": " + first_error);
  report.step_time_s = typical_step_time(report.step_times_s);
  if (report.step_time_s > 0)
    report.tokens_per_s = double(s.global_batch * seq) / report.step_time_s;
  report.device_peak_bytes = {pool_reserved_peak_bytes(0)};
  return report;
}

}  // namespace shardplan::executor::cuda
