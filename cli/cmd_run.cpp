// `shardplan run`: trains a plan on the CPU executor (one thread per rank, float32) and prints the
// loss per step, the step time, tokens/s and each rank's peak memory by category. The plan comes
// from a plan file or from the same flags as `estimate`; the model may be scaled down to CPU size.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <utility>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/strategy_flags.hpp"
#include "core/error.hpp"
#include "executor/layout.hpp"
#include "executor/run.hpp"
#include "plan/plan.hpp"

namespace shardplan::cli {

namespace {
struct RunCliOptions {
  std::string plan_file, backend = "cpu", model, data, checkpoint, precision;
  int64_t gpus = 0, global_batch = 0, seq_len = 0;
  int64_t layers = 0, hidden = 0, heads = 0, kv_heads = 0, ffn_hidden = 0, vocab = 0;
  StrategyFlags strategy;
  int steps = 5;
  uint64_t seed = 1;
  bool resume = false, json = false;
  CLI::App* cmd = nullptr;
};

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

executor::RunOptions resolve(const RunCliOptions& o) {
  if (!o.precision.empty())
    throw UsageError("--precision " + o.precision +
                     ": the CPU executor computes in float32 whatever the plan was made for; drop the flag");
  executor::RunOptions r;
  if (!o.plan_file.empty()) {
    for (const char* flag : {"--model", "--gpus", "--global-batch", "--tp", "--pp", "--dp", "--cp", "--ep",
                             "--vp", "--sp", "--zero", "--recompute", "--micro-batch", "--schedule"})
      if (o.cmd->count(flag) > 0)
        throw UsageError(std::string(flag) + " cannot be combined with a plan file (the plan fixes the strategy)");
    const Plan p = read_plan_file(o.plan_file);
    if (!p.model.spec)
      throw InputError(o.plan_file, "/model", "expected a transformer spec model (the CPU executor cannot run an op graph)");
    r.model = scaled(*p.model.spec, o);
    r.strategy = p.strategy;
  } else {
    if (o.model.empty() || o.gpus == 0 || o.global_batch == 0)
      throw UsageError("give a plan file, or --model, --gpus and --global-batch");
    LoadedModel lm = load_model(o.model);
    if (!lm.spec) throw UsageError("--model " + o.model + ": an op graph; the CPU executor runs transformer specs only");
    r.model = scaled(*lm.spec, o);
    Problem p;
    p.gpus = o.gpus;  // ranks = threads
    p.global_batch = o.global_batch;
    p.precision = DType::fp32;
    p.model.graph.seq_len = r.model.seq_len;
    // Flags that shape only GPU timing or GPU kernels: the CPU executor runs one attention and
    // overlaps nothing, so it refuses them rather than ignore them (a plan file may carry them:
    // its prediction priced them, and the numerics are the same).
    const StrategyFlags& f = o.strategy;
    std::string timing_only;
    for (auto [given, flag] : {std::pair{f.no_flash, "--no-flash-attention"},
                               std::pair{f.attention_kernel != "default", "--attention-kernel"},
                               std::pair{f.tp_comm_overlap, "--tp-comm-overlap"},
                               std::pair{f.ep_comm_overlap, "--ep-comm-overlap"},
                               std::pair{f.no_overlap_grad_reduce, "--no-overlap-grad-reduce"},
                               std::pair{f.no_async_tp_backward, "--no-async-tp-backward"},
                               std::pair{f.fp8_param_gather, "--fp8-param-gather"}})
      if (given) timing_only += std::string(timing_only.empty() ? "" : ", ") + flag;
    if (!timing_only.empty())
      throw UsageError(timing_only + ": the CPU executor computes attention one way and overlaps no communication, "
                       "so these change only the prediction (estimate, simulate); drop them to run");
    r.strategy = resolve_strategy(o.strategy, p);
  }
  r.strategy.seq_len = r.model.seq_len;
  r.strategy.precision = DType::fp32;  // the executor's math, whatever the plan was made for
  r.strategy.grad_reduce = DType::fp32;  // and its gradients
  r.strategy.fp8_param_gather = false;
  r.steps = o.steps;
  r.seed = o.seed;
  r.data_file = o.data;
  r.checkpoint_dir = o.checkpoint;
  r.resume = o.resume;
  const std::string why = executor::unsupported_reason(r);
  if (!why.empty()) throw UsageError("cannot run this plan on the CPU executor: " + why);
  return r;
}

const executor::MemCategory kCategories[] = {
    executor::MemCategory::weights, executor::MemCategory::gradients, executor::MemCategory::optimizer_states,
    executor::MemCategory::activations, executor::MemCategory::temporaries};

nlohmann::ordered_json report_json(const executor::RunOptions& r, const executor::RunReport& rep, int64_t first) {
  using OJ = nlohmann::ordered_json;
  const ModelSpec& m = r.model;
  OJ j;
  j["backend"] = "cpu";
  j["model"] = {{"name", m.name}, {"layers", m.layers}, {"hidden", m.hidden}, {"heads", m.heads},
                {"kv_heads", m.kv_heads}, {"ffn_hidden", m.ffn_hidden}, {"vocab", m.vocab}, {"seq_len", m.seq_len}};
  j["strategy"] = strategy_to_string(r.strategy);
  j["ranks"] = r.strategy.gpus();
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
  return j;
}

std::string report_text(const executor::RunOptions& r, const executor::RunReport& rep, int64_t first) {
  const ModelSpec& m = r.model;
  const Strategy& s = r.strategy;
  std::string out = fmt::format(
      "{} (layers {}, hidden {}, heads {}/{} kv, ffn {}, vocab {}) on {} CPU rank(s), float32\n"
      "strategy  {}\nglobal batch {} x {} tokens\n\n  step        loss   grad norm        time\n",
      m.name, m.layers, m.hidden, m.heads, m.kv_heads, m.ffn_hidden, m.vocab, s.gpus(), strategy_to_string(s),
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
  return out;
}

void run_run(const RunCliOptions& o) {
  const executor::RunOptions r = resolve(o);
  const executor::RunReport rep = executor::run_training(r);
  const int64_t first = r.steps - int64_t(rep.losses.size());
  if (o.json) std::cout << report_json(r, rep, first).dump(1) << "\n";
  else std::cout << report_text(r, rep, first);
}
}  // namespace

void register_run(CLI::App& app) {
  auto o = std::make_shared<RunCliOptions>();
  auto* cmd = app.add_subcommand("run", "Train a plan on the CPU executor (threads as ranks) and measure it");
  o->cmd = cmd;
  auto pos = CLI::Range(int64_t{1}, int64_t{1} << 30);
  cmd->add_option("plan", o->plan_file, "plan file (shardplan.plan/1); else the strategy flags below")->check(CLI::ExistingFile);
  cmd->add_option("--backend", o->backend, "executor backend")->check(CLI::IsMember({"cpu"}))->capture_default_str();
  cmd->add_option("--steps", o->steps, "optimizer steps (a resumed run continues up to this)")
      ->check(CLI::Range(0, 1 << 30))->capture_default_str();
  cmd->add_option("--precision", o->precision, "refused: the CPU executor computes in float32 whatever the plan's precision");
  cmd->add_option("--data", o->data, "token file (llm.c .bin or raw uint16); default synthetic tokens");
  cmd->add_option("--seed", o->seed, "seed of the weights and synthetic data")->capture_default_str();
  cmd->add_option("--checkpoint", o->checkpoint, "directory for a checkpoint written after the last step");
  cmd->add_flag("--resume", o->resume, "continue from the checkpoint in --checkpoint");
  cmd->add_option("--model", o->model, "zoo name or transformer spec / HF config.json");
  cmd->add_option("--gpus", o->gpus, "ranks (threads)")->check(CLI::Range(int64_t{1}, int64_t{4096}));
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
