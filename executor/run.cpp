// run_training: checks the plan, starts one thread per rank over an in-process world, and
// gathers the report. A failing rank aborts the world so the others stop instead of hanging.
#include <time.h>

#include <chrono>
#include <mutex>
#include <new>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "executor/checkpoint.hpp"
#include "executor/comm_inprocess.hpp"
#include "executor/rank_trainer.hpp"
#include "executor/train.hpp"

namespace shardplan::executor {

std::string unsupported_reason(const RunOptions& o) {
  const Strategy& s = o.strategy;
  const ModelSpec& m = o.model;
  auto str = [](int64_t v) { return std::to_string(v); };
  if (s.cp > 1) return "context parallelism is not supported by the CPU executor yet";
  if (s.ep > 1) return "expert parallelism is not supported by the CPU executor yet";
  if (m.moe) return "mixture-of-experts layers are not supported by the CPU executor yet";
  if (m.ffn_act == "geglu") return "the GELU-gated FFN (geglu) is not supported by the CPU executor yet";
  if (m.post_norms || m.logit_softcap)
    return "post_norms and logit_softcap (Gemma's layer) are not supported by the CPU executor yet";
  if (m.ffn_act == "quick_geglu" || m.glu_linear_offset != 0 || m.ffn_clamp != 0 || m.linear_bias || m.attention.sinks)
    return "gpt-oss's layer (quick_geglu, glu_linear_offset, ffn_clamp, linear_bias, attention sinks) is not "
           "supported by the CPU executor yet";
  if (m.qk_norm) return "per-head query and key norms (qk_norm, Qwen3's layer) are not supported by the CPU executor yet";
  if (m.attention.kind != "mha") return "attention kind \"" + m.attention.kind + "\" is not supported by the CPU executor yet (only mha/gqa)";
  if (m.layers < 1 || m.hidden < 1 || m.heads < 1 || m.kv_heads < 1 || m.head_dim < 1 ||
      m.ffn_hidden < 1 || m.vocab < 1)
    return "the model spec has a size below 1";
  if (m.heads % m.kv_heads != 0) return "kv_heads must divide heads";
  if (m.vocab > (int64_t{1} << 31) - 1) return "vocab must fit in int32 token ids";
  if (s.dp < 1 || s.tp < 1 || s.pp < 1 || s.vp < 1 || s.micro_batch < 1 || s.global_batch < 1)
    return "dp, tp, pp, vp, micro_batch and global_batch must be at least 1";
  if (s.recompute == Recompute::op)
    return "recompute=op is torchtitan's op-level checkpointing policy; the executor runs none, "
           "selective and full";
  if (s.zero < 0 || s.zero > 3) return "zero must be 0, 1, 2 or 3 (found " + str(s.zero) + ")";
  if (s.dp * s.tp * s.pp > 4096) return "more than 4096 ranks (threads) requested";
  if (o.steps < 0) return "steps must not be negative";
  if (o.comm_timeout_s < 1 || o.comm_timeout_s > 86400) return "comm_timeout_s must be 1 to 86400 seconds";
  const int64_t seq = s.seq_len_or(m.seq_len);
  if (seq < 1) return "seq_len must be at least 1";
  if (m.window_below(seq))
    return "sliding-window attention (window " + str(m.attention.window) + " < seq_len " + str(seq) +
           ") is not supported by the CPU executor yet";
  if (s.global_batch % (s.dp * s.micro_batch) != 0)
    return "global_batch (" + str(s.global_batch) + ") must be a multiple of dp*micro_batch (" +
           str(s.dp * s.micro_batch) + ")";
  if (m.layers < s.pp * s.vp)
    return "layers (" + str(m.layers) + ") must be at least pp*vp (" + str(s.pp * s.vp) + ")";
  if (!o.layer_bounds.empty()) {
    const auto& b = o.layer_bounds;
    if (static_cast<int64_t>(b.size()) != s.pp * s.vp + 1 || b.front() != 0 || b.back() != m.layers)
      return "the pipeline cut must have pp*vp + 1 layer bounds from 0 to layers (" + str(m.layers) + ")";
    for (size_t c = 0; c + 1 < b.size(); ++c)
      if (b[c + 1] <= b[c])
        return "the pipeline cut leaves chunk " + std::to_string(c) +
               " without a transformer layer (the executor runs at least one per chunk)";
  }
  const std::string sched = schedule_problem(s.schedule, static_cast<int>(s.pp),
                                             static_cast<int>(s.vp), static_cast<int>(s.micro_batches()));
  if (!sched.empty()) return sched;
  try {
    make_dims(m, s);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  if (o.resume && o.checkpoint_dir.empty()) return "resume needs a checkpoint_dir";
  return "";
}

namespace {
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
}  // namespace

template <class T>
RunReport train(const RunOptions& o, ParamStore<T>* final_params, const AdamWConfig& adamw) {
  const std::string problem = unsupported_reason(o);
  if (!problem.empty()) throw std::runtime_error("cannot run this plan: " + problem);
  const Strategy& s = o.strategy;
  const TrainConfig cfg = train_config(o, adamw);
  const int64_t seq = s.seq_len_or(o.model.seq_len);
  const RankLayout layout{static_cast<int>(s.dp), static_cast<int>(s.pp), static_cast<int>(s.tp)};
  const int world_size = layout.world_size();
  InProcessWorld world(world_size, std::chrono::seconds(o.comm_timeout_s));

  RunReport report;
  report.peak_bytes_per_rank.resize(world_size);
  std::mutex mu;
  std::string first_error;
  int first_error_rank = -1;
  double elapsed_s = 0;
  int64_t steps_run = 0;

  auto body = [&](int rank) {
    RankComms comms;
    comms.world = world.communicator(layout.world_group(), rank);
    comms.tp = world.communicator(layout.tp_group(rank), rank);
    comms.dp = world.communicator(layout.dp_group(rank), rank);
    const RankCoords at = layout.coords(rank);
    if (o.model.tied_embeddings && s.pp > 1 && (at.pp == 0 || at.pp == s.pp - 1))
      comms.emb = world.communicator(layout.embedding_group(rank), rank);
    MemoryTracker mem;
    RankTrainer<T> trainer(cfg, rank, std::move(comms), mem);
    if (o.resume) load_checkpoint(o.checkpoint_dir, o, rank, trainer);
    std::vector<double> losses, norms, times, cpu_times;
    trainer.world().barrier();
    const auto t0 = std::chrono::steady_clock::now();
    auto last = t0;
    double last_cpu = thread_cpu_s();
    for (int64_t step = trainer.steps_done(); step < o.steps; ++step) {
      losses.push_back(trainer.train_step(step));
      norms.push_back(trainer.last_grad_norm());
      const auto now = std::chrono::steady_clock::now();  // every step ends in a world all-reduce
      times.push_back(std::chrono::duration<double>(now - last).count());
      last = now;
      const double cpu = thread_cpu_s();
      cpu_times.push_back(cpu - last_cpu);
      last_cpu = cpu;
    }
    trainer.world().barrier();
    const auto t1 = std::chrono::steady_clock::now();
    if (!o.checkpoint_dir.empty()) save_checkpoint(o.checkpoint_dir, o, rank, trainer);
    if (final_params) trainer.export_params(*final_params);
    std::lock_guard<std::mutex> lock(mu);
    report.peak_bytes_per_rank[rank] = mem.snapshot(rank);
    if (rank == 0) {
      report.losses = losses;
      report.grad_norms = norms;
      report.step_times_s = times;
      report.step_cpu_times_s = cpu_times;
      elapsed_s = std::chrono::duration<double>(t1 - t0).count();
      steps_run = static_cast<int64_t>(losses.size());
    }
  };
  std::vector<std::thread> threads;
  auto fail = [&](int r, const std::string& what) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (first_error_rank < 0) first_error_rank = r, first_error = what;
    }
    world.abort("rank " + std::to_string(r) + " failed: " + what);
  };
  for (int r = 0; r < world_size; ++r) {
    try {
      threads.emplace_back([&, r] {
        try {
          body(r);
        } catch (const CommAborted&) {
          // another rank failed first; its error is the one reported
        } catch (const std::bad_alloc&) {
          fail(r, "out of host memory: the ranks' weights, gradients, optimizer states and activations (float32, "
                  "every rank in this process) exceed this machine's memory; scale the model down (--layers, "
                  "--hidden, --vocab, --seq-len) or run fewer ranks");
        } catch (const std::exception& e) {
          fail(r, e.what());
        }
      });
    } catch (const std::system_error& e) {
      // The system refused another thread (limits, memory): the ranks started are aborted and
      // joined, and the run fails with the reason instead of terminating the process.
      fail(r, "cannot start the thread of rank " + std::to_string(r) + " of " + std::to_string(world_size) + ": " +
                  e.what());
      break;
    }
  }
  for (auto& t : threads) t.join();
  if (first_error_rank >= 0)
    throw std::runtime_error(world_size == 1 ? first_error
                                             : "rank " + std::to_string(first_error_rank) + ": " + first_error);
  if (steps_run > 0) {
    report.step_time_s = elapsed_s / double(steps_run);
    report.tokens_per_s = double(s.global_batch * seq) / report.step_time_s;
  }
  return report;
}

RunReport run_training(const RunOptions& options) { return train<float>(options); }

template RunReport train<float>(const RunOptions&, ParamStore<float>*, const AdamWConfig&);
template RunReport train<double>(const RunOptions&, ParamStore<double>*, const AdamWConfig&);

}  // namespace shardplan::executor
