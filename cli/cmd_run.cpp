// `shardplan run`: trains a plan on the CPU executor (one thread per rank, float32) or on the CUDA
// executor (--backend cuda: bf16 with fp32 master weights; every rank on GPU 0, or one process per
// GPU with --nproc-per-node) and prints the loss per step, the step time, tokens/s and each rank's
// peak memory. The plan comes from a plan file or from the same flags as `estimate`; the model may
// be scaled down. On the GPU a plan file's own prediction is set beside what was measured.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include "cli/commands.hpp"
#include "cli/cuda_backend.hpp"
#include "cli/format.hpp"
#include "cli/strategy_flags.hpp"
#include "core/error.hpp"
#include "executor/layout.hpp"
#include "executor/rendezvous.hpp"
#include "executor/run.hpp"
#include "plan/plan.hpp"

namespace shardplan::cli {

namespace {
struct RunCliOptions {
  std::string plan_file, backend = "cpu", model, data, checkpoint, precision;
  int64_t gpus = 0, global_batch = 0, seq_len = 0;
  int64_t layers = 0, hidden = 0, heads = 0, kv_heads = 0, ffn_hidden = 0, vocab = 0;
  StrategyFlags strategy;
  int steps = 5, nproc_per_node = 1;
  int64_t comm_timeout_s = 300;
  uint64_t seed = 1;
  bool resume = false, json = false;
  CLI::App* cmd = nullptr;
  bool cuda() const { return backend == "cuda"; }
  bool resized() const { return layers || hidden || heads || kv_heads || ffn_hidden || vocab || seq_len; }
};

// What the executor of `o.backend` computes in, for the report.
const char* math_of(const RunCliOptions& o) { return o.cuda() ? "bf16 (fp32 master weights)" : "float32"; }

// --layers, --hidden, ... replace the spec's sizes; head_dim follows hidden / heads, and --heads
// alone keeps the model's query heads per kv head (MHA stays MHA).
ModelSpec scaled(ModelSpec m, const RunCliOptions& o) {
  const int64_t group = m.kv_heads > 0 && m.heads % m.kv_heads == 0 ? m.heads / m.kv_heads : 1;
  if (o.layers > 0) m.layers = o.layers;
  if (o.heads > 0) m.heads = o.heads;
  if (o.hidden > 0) m.hidden = o.hidden;
  if (o.hidden > 0 || o.heads > 0) {
    if (m.hidden % m.heads != 0)
      throw UsageError(fmt::format("--hidden {} must be a multiple of heads ({})", m.hidden, m.heads));
    m.head_dim = m.hidden / m.heads;
  }
  if (o.kv_heads > 0) m.kv_heads = o.kv_heads;
  else if (o.heads > 0) m.kv_heads = std::max<int64_t>(1, m.heads / group);
  if (o.ffn_hidden > 0) m.ffn_hidden = o.ffn_hidden;
  if (o.vocab > 0) m.vocab = o.vocab;
  if (o.seq_len > 0) m.seq_len = o.seq_len;
  return m;
}

// A plan file's prediction beside the measurement (CUDA runs of the plan's own model): its step
// time and peak memory per GPU, as the plan file stores them; null without one.
struct Predicted {
  std::string cluster;
  double step_time_s = 0, peak_memory_bytes = 0;
};

// The run the options ask for; `predicted` gets a plan file's prediction when a CUDA run of the
// plan's own (unresized) model can be set beside it.
executor::RunOptions resolve(const RunCliOptions& o, std::optional<Predicted>& predicted) {
  const std::string exec = o.cuda() ? "the CUDA executor" : "the CPU executor";
  if (!o.precision.empty() && !(o.cuda() && o.precision == "bf16"))
    throw UsageError("--precision " + o.precision + ": " + exec + " computes in " + math_of(o) +
                     " whatever the plan was made for; drop the flag");
  if (o.cuda() && o.nproc_per_node != 1)
    if (const auto env = executor::launch_env())
      throw UsageError("--nproc-per-node: started by " + env->launcher +
                       ", which starts one process per GPU itself; drop the flag");
  if (!o.cuda() && o.nproc_per_node != 1)
    throw UsageError("--nproc-per-node: the CPU executor runs every rank as a thread of this process; it is for --backend cuda");
  executor::RunOptions r;
  if (!o.plan_file.empty()) {
    for (const char* flag :
         {"--model", "--gpus", "--global-batch", "--tp", "--pp", "--dp", "--cp", "--ep", "--vp", "--sp", "--zero",
          "--recompute", "--micro-batch", "--schedule", "--tp-comm-overlap", "--ep-comm-overlap",
          "--fp8-param-gather", "--no-flash-attention", "--attention-kernel", "--no-overlap-grad-reduce",
          "--no-async-tp-backward", "--zero3-impl"})
      if (o.cmd->count(flag) > 0)
        throw UsageError(std::string(flag) + " cannot be combined with a plan file (the plan fixes the strategy)");
    const Plan p = read_plan_file(o.plan_file);
    if (!p.model.spec)
      throw InputError(o.plan_file, "/model", "expected a transformer spec model (" + exec + " cannot run an op graph)");
    r.model = scaled(*p.model.spec, o);
    r.strategy = p.strategy;
    // The plan's pipeline cut (blocks: the embedding, the layers, the head), unless the layer count
    // changed; the executor runs a layer or more per chunk and says so where the cut has none.
    if (o.layers == 0)
      for (const int64_t b : p.chunk_bounds)
        r.layer_bounds.push_back(std::clamp<int64_t>(b - 1, 0, r.model.layers));
    if (o.cuda() && !o.resized())
      predicted = Predicted{p.cluster.name, p.prediction.value("step_time_s", 0.0),
                            p.prediction.value("peak_memory_bytes", 0.0)};
  } else {
    if (o.model.empty() || o.gpus == 0 || o.global_batch == 0)
      throw UsageError("give a plan file, or --model, --gpus and --global-batch");
    LoadedModel lm = load_model(o.model);
    if (!lm.spec) throw UsageError("--model " + o.model + ": an op graph; " + exec + " runs transformer specs only");
    r.model = scaled(*lm.spec, o);
    Problem p;
    p.gpus = o.gpus;  // ranks = threads
    p.global_batch = o.global_batch;
    p.precision = o.cuda() ? DType::bf16 : DType::fp32;
    p.model.graph.seq_len = r.model.seq_len;
    // Flags that shape only GPU timing or GPU kernels: the executors overlap nothing and the CPU
    // one runs one attention (the CUDA one has a fused and an unfused one), so they refuse them
    // rather than ignore them (a plan file may carry them: its prediction priced them, and the
    // numerics are the same).
    const StrategyFlags& f = o.strategy;
    std::string timing_only;
    for (auto [given, flag] : {std::pair{f.no_flash && !o.cuda(), "--no-flash-attention"},
                               std::pair{f.attention_kernel != "default", "--attention-kernel"},
                               std::pair{f.tp_comm_overlap, "--tp-comm-overlap"},
                               std::pair{f.ep_comm_overlap, "--ep-comm-overlap"},
                               std::pair{f.no_overlap_grad_reduce, "--no-overlap-grad-reduce"},
                               std::pair{f.no_async_tp_backward, "--no-async-tp-backward"},
                               std::pair{f.fp8_param_gather, "--fp8-param-gather"},
                               std::pair{f.zero3_impl != "fsdp", "--zero3-impl"}})
      if (given) timing_only += std::string(timing_only.empty() ? "" : ", ") + flag;
    if (!timing_only.empty())
      throw UsageError(timing_only + ": " + exec + (o.cuda() ? "" : " computes attention one way and") +
                       " overlaps no communication, so these change only the prediction (estimate, simulate); "
                       "drop them to run");
    r.strategy = resolve_strategy(o.strategy, p);
  }
  r.strategy.seq_len = r.model.seq_len;
  // The executor's math, whatever the plan was made for, and its gradients (fp32).
  r.strategy.precision = o.cuda() ? DType::bf16 : DType::fp32;
  r.strategy.grad_reduce = DType::fp32;
  r.comm_timeout_s = o.comm_timeout_s;
  r.strategy.fp8_param_gather = false;
  r.strategy.zero3_impl = Zero3Impl::fsdp;  // the executors gather a block at a time
  r.steps = o.steps;
  r.seed = o.seed;
  r.data_file = o.data;
  r.checkpoint_dir = o.checkpoint;
  r.resume = o.resume;
  // shardplan-cuda checks its own plans (executor/cuda/run_cuda.hpp) and says why it cannot.
  const std::string why = o.cuda() ? std::string() : executor::unsupported_reason(r);
  if (!why.empty()) throw UsageError("cannot run this plan on " + exec + ": " + why);
  return r;
}

const executor::MemCategory kCategories[] = {
    executor::MemCategory::weights, executor::MemCategory::gradients, executor::MemCategory::optimizer_states,
    executor::MemCategory::activations, executor::MemCategory::temporaries};

nlohmann::ordered_json report_json(const RunCliOptions& o, const executor::RunOptions& r, const executor::RunReport& rep,
                                   int64_t first, const std::optional<Predicted>& pred) {
  using OJ = nlohmann::ordered_json;
  const ModelSpec& m = r.model;
  OJ j;
  j["backend"] = o.backend;
  j["model"] = {{"name", m.name}, {"layers", m.layers}, {"hidden", m.hidden}, {"heads", m.heads},
                {"kv_heads", m.kv_heads}, {"ffn_hidden", m.ffn_hidden}, {"vocab", m.vocab}, {"seq_len", m.seq_len}};
  j["strategy"] = strategy_to_string(r.strategy);
  j["ranks"] = r.strategy.gpus();
  if (o.cuda()) j["nproc_per_node"] = o.nproc_per_node;
  OJ steps = OJ::array();
  for (size_t i = 0; i < rep.losses.size(); ++i)
    steps.push_back({{"step", first + int64_t(i) + 1}, {"loss", rep.losses[i]}, {"grad_norm", rep.grad_norms[i]},
                     {"time_s", rep.step_times_s[i]}});
  j["steps"] = steps;
  j["step_time_s"] = rep.step_time_s;
  j["tokens_per_s"] = rep.tokens_per_s;
  OJ ranks = OJ::array();
  const executor::RankLayout layout{int(r.strategy.dp), int(r.strategy.pp), int(r.strategy.tp)};
  for (const executor::RankMemory& mem : rep.peak_bytes_per_rank) {
    const executor::RankCoords c = layout.coords(mem.rank);
    OJ row{{"rank", mem.rank}, {"dp", c.dp}, {"pp", c.pp}, {"tp", c.tp}};
    for (executor::MemCategory k : kCategories)
      row[std::string(mem_category_name(k)) + "_bytes"] = mem.peak_bytes[static_cast<int>(k)];
    row["peak_total_bytes"] = mem.peak_total_bytes;
    ranks.push_back(row);
  }
  j["peak_memory_per_rank"] = ranks;
  if (o.cuda()) j["device_peak_bytes"] = rep.device_peak_bytes;
  if (pred) {
    j["predicted"] = {{"cluster", pred->cluster}, {"step_time_s", pred->step_time_s},
                      {"peak_memory_bytes", pred->peak_memory_bytes}};
  }
  return j;
}

std::string report_text(const RunCliOptions& o, const executor::RunOptions& r, const executor::RunReport& rep,
                        int64_t first, const std::optional<Predicted>& pred) {
  const ModelSpec& m = r.model;
  const Strategy& s = r.strategy;
  const std::string where =
      !o.cuda() ? fmt::format("{} CPU rank(s)", s.gpus())
      : o.nproc_per_node == 1 ? fmt::format("{} rank(s) on GPU 0", s.gpus())
                              : fmt::format("{} GPUs, one process each", o.nproc_per_node);
  std::string out = fmt::format(
      "{} (layers {}, hidden {}, heads {}/{} kv, ffn {}, vocab {}) on {}, {}\n"
      "strategy  {}\nglobal batch {} x {} tokens\n\n  step        loss   grad norm        time\n",
      m.name, m.layers, m.hidden, m.heads, m.kv_heads, m.ffn_hidden, m.vocab, where, math_of(o), strategy_to_string(s),
      s.global_batch, m.seq_len);
  for (size_t i = 0; i < rep.losses.size(); ++i)
    out += fmt::format("  {:>4} {:>11.6f} {:>11.5f} {:>11}\n", first + int64_t(i) + 1, rep.losses[i],
                       rep.grad_norms[i], human_seconds(rep.step_times_s[i]));
  if (rep.losses.empty()) out += "  (no steps to run: the checkpoint is already at --steps)\n";
  else out += fmt::format("\nstep time  {} (mean)\ntokens/s   {:.0f}\n", human_seconds(rep.step_time_s), rep.tokens_per_s);
  out += "\npeak memory per rank (each category's own peak; total: peak of the sum)\n";
  out += fmt::format("  {:>4} {:>8} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}\n", "rank", "dp/pp/tp", "weights",
                     "gradients", "optimizer", "activations", "temporaries", "total");
  const executor::RankLayout layout{int(s.dp), int(s.pp), int(s.tp)};
  for (const executor::RankMemory& mem : rep.peak_bytes_per_rank) {
    const executor::RankCoords c = layout.coords(mem.rank);
    out += fmt::format("  {:>4} {:>8}", mem.rank, fmt::format("{}/{}/{}", c.dp, c.pp, c.tp));
    for (executor::MemCategory k : kCategories) out += fmt::format(" {:>11}", human_bytes(double(mem.peak_bytes[int(k)])));
    out += fmt::format(" {:>11}\n", human_bytes(double(mem.peak_total_bytes)));
  }
  for (size_t g = 0; g < rep.device_peak_bytes.size(); ++g)
    out += fmt::format("GPU {}: allocator pool peak {} (the CUDA context and library workspaces come on top)\n", g,
                       human_bytes(double(rep.device_peak_bytes[g])));
  if (pred && rep.step_time_s > 0) {
    out += fmt::format("\nthe plan's prediction (cluster {}): step time {}, measured {} ({:+.1f}%)", pred->cluster,
                       human_seconds(pred->step_time_s), human_seconds(rep.step_time_s),
                       100 * (pred->step_time_s - rep.step_time_s) / rep.step_time_s);
    out += fmt::format("; peak memory per GPU {}\n", human_bytes(pred->peak_memory_bytes));
  }
  return out;
}

void run_run(const RunCliOptions& o) {
  std::optional<Predicted> pred;
  const executor::RunOptions r = resolve(o, pred);
  std::optional<executor::RunReport> got =
      o.cuda() ? run_on_cuda(r, o.nproc_per_node, std::chrono::seconds(o.comm_timeout_s)) : executor::run_training(r);
  if (!got) return;  // one rank of an mpirun/torchrun job, not rank 0: rank 0 reports
  const executor::RunReport& rep = *got;
  const int64_t first = r.steps - int64_t(rep.losses.size());
  if (o.json) std::cout << report_json(o, r, rep, first, pred).dump(1) << "\n";
  else std::cout << report_text(o, r, rep, first, pred);
}
}  // namespace

void register_run(CLI::App& app) {
  auto o = std::make_shared<RunCliOptions>();
  auto* cmd = app.add_subcommand("run", "Train a plan on the CPU executor (threads as ranks) or the GPU(s) and measure it");
  o->cmd = cmd;
  auto pos = CLI::Range(int64_t{1}, int64_t{1} << 30);
  cmd->add_option("plan", o->plan_file, "plan file (shardplan.plan/1); else the strategy flags below")->check(CLI::ExistingFile);
  cmd->add_option("--backend", o->backend, "executor backend: cpu (float32, threads as ranks) or cuda (bf16, cuBLAS, NCCL)")
      ->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--nproc-per-node", o->nproc_per_node,
                  "cuda: processes, one per GPU (dp*tp*pp of them, over NCCL); 1 runs every rank on GPU 0")
      ->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--comm-timeout", o->comm_timeout_s,
                  "seconds before a failed or hung collective or pipeline receive aborts every rank (cpu: a "
                  "full-size model's micro-batch can take longer than the default on one thread)")
      ->check(CLI::Range(int64_t{1}, int64_t{86400}))->capture_default_str();
  cmd->add_option("--steps", o->steps, "optimizer steps (a resumed run continues up to this)")
      ->check(CLI::Range(0, 1 << 30))->capture_default_str();
  cmd->add_option("--precision", o->precision,
                  "refused (cuda: bf16 only): the executors compute in float32 (cpu) or bf16 (cuda) whatever the plan's precision");
  cmd->add_option("--data", o->data, "token file (llm.c .bin or raw uint16); default synthetic tokens");
  cmd->add_option("--seed", o->seed, "seed of the weights and synthetic data")->capture_default_str();
  cmd->add_option("--checkpoint", o->checkpoint, "directory for a checkpoint written after the last step");
  cmd->add_flag("--resume", o->resume, "continue from the checkpoint in --checkpoint");
  cmd->add_option("--model", o->model, "zoo name or transformer spec / HF config.json");
  cmd->add_option("--gpus", o->gpus, "ranks (threads on the CPU backend)")->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--global-batch", o->global_batch, "sequences per step")->check(pos);
  cmd->add_option("--seq-len", o->seq_len, "override the sequence length")->check(pos);
  cmd->add_option("--layers", o->layers, "override the layer count (CPU-sized runs)")->check(pos);
  cmd->add_option("--hidden", o->hidden, "override the hidden size (head_dim = hidden / heads)")->check(pos);
  cmd->add_option("--heads", o->heads, "override the attention heads")->check(pos);
  cmd->add_option("--kv-heads", o->kv_heads, "override the key/value heads")->check(pos);
  cmd->add_option("--ffn-hidden", o->ffn_hidden, "override the MLP width")->check(pos);
  cmd->add_option("--vocab", o->vocab, "override the vocabulary size")->check(pos);
  add_strategy_flags(cmd, o->strategy);
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] { run_run(*o); });
}

}  // namespace shardplan::cli
