// `shardplan plan`: search the strategy space and print the best plans, why the best wins, and
// what was rejected and why. Any dimension may be fixed or given as a list ("--tp 4,8").
#include <fmt/format.h>

#include <algorithm>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/estimate_json.hpp"
#include "cli/format.hpp"
#include "cli/rerank.hpp"
#include "cli/search_flags.hpp"
#include "cli/strategy_flags.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "plan/framework_rules.hpp"
#include "plan/plan.hpp"
#include "planner/advise.hpp"
#include "planner/explain.hpp"
#include "planner/search.hpp"

namespace shardplan::cli {

namespace {
struct PlanOptions {
  ProblemFlags problem;
  SearchFlags search;
  std::string out, framework;
  bool json = false;
};

// --framework: search only what that framework runs (the emitters' rules), with the recompute
// modes it implements unless --recompute names them.
void restrict_to_framework(const std::string& name, const LoadedModel& model, SearchSpace& space,
                           SearchOptions& so) {
  Framework f{};
  parse_framework(name, f);
  if (!model.spec)
    throw UsageError("--framework " + name +
                     ": an explicit op graph maps onto no framework's model; plan a transformer "
                     "spec or a Hugging Face config");
  if (f == Framework::torchtitan && (!so.flash_attention || !so.overlap_grad_reduce))
    throw UsageError("--framework torchtitan: torchtitan runs fused SDPA attention and overlaps the "
                     "gradient reduction; drop --no-flash-attention and --no-overlap-grad-reduce");
  if (f != Framework::deepspeed && so.zero3_impl != Zero3Impl::fsdp)
    throw UsageError("--framework " + name + ": its ZeRO-3 gathers a layer at a time (FSDP); drop --zero3-impl " +
                     zero3_impl_name(so.zero3_impl));
  if (f == Framework::deepspeed && so.zero3_impl == Zero3Impl::deepspeed_2021)
    throw UsageError("--framework deepspeed: plans for today's DeepSpeed, whose ZeRO-3 is --zero3-impl deepspeed; "
                     "drop --zero3-impl deepspeed-2021");
  if (f == Framework::deepspeed) so.zero3_impl = Zero3Impl::deepspeed;
  if (space.recompute.empty()) space.recompute = framework_recompute_modes(f);
  const ModelSpec* spec = &*model.spec;
  so.admit = [f, spec](Strategy& s) { return framework_plans(f, s, spec); };
  const int64_t blocks = static_cast<int64_t>(model.graph.blocks.size());
  so.accept = [f, blocks](const Strategy&, const Estimate& e) {
    return framework_partition_runs(f, e.chunk_bounds, blocks);
  };
}

// The strategy column as wide as its longest entry, so the columns after it line up.
size_t strategy_width(const std::vector<Candidate>& top) {
  size_t w = 8;
  for (const Candidate& c : top) w = std::max(w, strategy_to_string(c.strategy).size());
  return w;
}

std::string table_row(size_t rank, const Candidate& c, const ClusterSpec& cl, size_t width) {
  const Estimate& e = c.estimate;
  return fmt::format("{:>3}  {:<{}} {:>10} {:>10} {:>10.0f} {:>5.1f}% {:>9}/{:<9} {:>5.1f}% {:>5.1f}%\n", rank,
                     strategy_to_string(c.strategy), width, human_seconds(e.step_time_s), human_seconds(c.simulated_step_s),
                     e.tokens_per_s, 100 * e.mfu,
                     human_bytes(e.peak_memory_bytes), human_bytes(cl.gpu.memory_bytes), 100 * e.bubble_fraction,
                     100 * e.exposed_comm_fraction);
}

// A progress bar on a terminal for whatever takes over a second: the search, then the
// simulation of the top K.
class ProgressBar {
 public:
  explicit ProgressBar(bool on) : on_(on), start_(std::chrono::steady_clock::now()) {}
  std::function<void(double)> phase(std::string label) {
    if (!on_) return {};
    return [this, label = std::move(label)](double f) {
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() < 1) return;
      const int pct = static_cast<int>(f * 100);
      if (pct == last_pct_ && label == last_label_) return;
      last_pct_ = pct, last_label_ = label, shown_ = true;
      const int w = static_cast<int>(f * 40);
      std::cerr << "\r[" << std::string(w, '#') << std::string(40 - w, ' ') << "] " << pct << "% " << label
                << std::flush;
    };
  }
  ~ProgressBar() {
    if (shown_) std::cerr << "\r" << std::string(70, ' ') << "\r" << std::flush;
  }

 private:
  bool on_, shown_ = false;
  std::chrono::steady_clock::time_point start_;
  int last_pct_ = -1;
  std::string last_label_;
};

nlohmann::ordered_json candidate_json(const Candidate& c, const OpGraph& g) {
  nlohmann::ordered_json j = estimate_json(c.estimate, c.strategy, g);
  j["simulated_step_time_s"] = c.simulated_step_s;
  return j;
}

void run_plan(const PlanOptions& o) {
  Problem p = resolve_problem(o.problem);
  SearchOptions so = search_options_from(o.search, p.gpus, p.global_batch, p.precision,
                                         o.problem.allow_tp_across_nodes);
  so.grad_reduce = p.grad_reduce;
  SearchSpace space = search_space_from(o.search);
  // Flags that would otherwise change nothing (estimate refuses the same combinations).
  if (so.fp8_param_gather && p.precision != DType::fp8)
    throw UsageError("--fp8-param-gather needs --precision fp8 (the distributed optimizer or FSDP gathers "
                     "FP8 weights)");
  if (so.zero3_impl != Zero3Impl::fsdp && !space.zero.empty() &&
      std::find(space.zero.begin(), space.zero.end(), 3) == space.zero.end())
    throw UsageError(std::string("--zero3-impl ") + zero3_impl_name(so.zero3_impl) +
                     " says how ZeRO-3 gathers, but --zero leaves stage 3 out");
  if (!o.framework.empty()) restrict_to_framework(o.framework, p.model, space, so);
  const auto start = std::chrono::steady_clock::now();
  SearchResult r;
  {
    ProgressBar bar(!o.json && isatty(STDERR_FILENO));
    so.progress = bar.phase("searching");
    r = search(p.model.graph, p.cluster, space, so);
    so.progress = nullptr;
    if (r.considered == 0) {
      std::string why;
      for (const auto& n : r.not_searched) why += (why.empty() ? "" : "; ") + n;
      throw UsageError("nothing to search: " +
                       (why.empty() ? std::string("the space is empty for this model, GPU count and batch") : why));
    }
    rerank_with_simulator(r.top, p.model.graph, p.cluster, so.objective, size_t(o.search.top),
                          bar.phase("simulating the best " + std::to_string(r.top.size())));
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::optional<NothingFits> advice;
  if (r.top.empty() && r.timed_out) {
    // The time limit ended the search first: that no plan was found says nothing about the problem.
    advice = NothingFits{};
    advice->diagnosis.push_back(fmt::format(
        "the time limit ({} s) ended the search after {} of the strategies, before any that fits was found; "
        "raise --time-limit (0: none) to search them all",
        so.time_limit_s, r.considered));
  } else if (r.top.empty()) {
    advice = advise_when_nothing_fits(p.model.graph, load_cluster(o.problem.cluster), space, so, r);
    // Every strategy refused by --framework: where the model itself is what the framework cannot
    // run (Gemma's layer in Megatron-LM, say), no other split will do; say so.
    Framework f{};
    if (!o.framework.empty() && parse_framework(o.framework, f) && p.model.spec &&
        r.rejected[static_cast<size_t>(Reason::framework)] == r.considered) {
      Strategy plain;
      plain.seq_len = p.model.graph.seq_len;
      for (const std::string& gap : framework_gaps(f, plain, &*p.model.spec))
        advice->diagnosis.push_back(o.framework + " cannot run this model: " + gap);
    }
  }
  nlohmann::ordered_json j;
  j["plans"] = nlohmann::ordered_json::array();
  for (const auto& c : r.top) j["plans"].push_back(candidate_json(c, p.model.graph));
  auto& sj = j["search"];
  sj["considered"] = r.considered;
  sj["feasible"] = r.feasible;
  for (size_t i = 1; i < r.rejected.size(); ++i) sj["rejected"][reason_name(static_cast<Reason>(i))] = r.rejected[i];
  sj["not_searched"] = r.not_searched;
  if (!o.framework.empty()) sj["framework"] = o.framework;
  sj["timed_out"] = r.timed_out;
  sj["search_wall_s"] = r.wall_s;
  sj["wall_s"] = wall_s;
  sj["threads"] = so.threads;
  if (advice) {
    auto& nj = j["nothing_fits"];
    nj["diagnosis"] = advice->diagnosis;
    nj["cut_short"] = advice->cut_short;
    if (r.has_closest_oom) nj["closest"] = candidate_json(r.closest_oom, p.model.graph);
    nj["suggestions"] = nlohmann::ordered_json::array();
    for (const auto& sg : advice->suggestions)
      nj["suggestions"].push_back({{"change", sg.change}, {"gpus", sg.gpus}, {"plan", candidate_json(sg.best, p.model.graph)}});
  }
  auto print_advice = [&](std::ostream& os) {
    for (const auto& line : advice->diagnosis) os << line << "\n";
    if (advice->cut_short) os << "(the advice stopped trying after 8 s)\n";
    if (advice->suggestions.empty()) {
      if (r.has_closest_oom && !r.timed_out)
        os << "nothing tried fits: not every value of the restricted dimensions, not up to " << 64 * p.gpus
           << " GPUs, not a global batch down to " << std::max<int64_t>(1, p.global_batch / 16) << "\n";
      return;
    }
    os << "what fits instead (each found by searching the changed problem):\n";
    for (const auto& sg : advice->suggestions)
      os << fmt::format("  {}: {} at {} per step, {} per GPU\n", sg.change, strategy_to_string(sg.best.strategy),
                        human_seconds(sg.best.estimate.step_time_s), human_bytes(sg.best.estimate.peak_memory_bytes));
  };
  if (!o.out.empty()) {
    if (r.top.empty()) {
      print_advice(std::cerr);
      throw UsageError("no feasible plan to write to " + o.out);
    }
    const Candidate& best = r.top.front();
    Plan plan = make_plan(p.model, p.cluster, best.strategy, so.allow_tp_across_nodes, best.estimate.chunk_bounds,
                          estimate_json(best.estimate, best.strategy, p.model.graph));
    write_file_atomically(o.out, plan_to_text(plan));
  }
  if (o.json) {
    // The wall times differ run to run; everything else is deterministic.
    std::cout << j.dump(1) << "\n";
    return;
  }
  std::cout << fmt::format("{} on {} x {} ({}), global batch {} x {} tokens, objective {}{}\n\n", p.model.graph.name,
                           p.gpus, p.cluster.gpu.name, p.cluster.name, p.global_batch, p.model.graph.seq_len, o.search.objective,
                           o.framework.empty() ? "" : ", plans " + o.framework + " runs");
  if (r.top.empty()) {
    print_advice(std::cout);
  } else {
    const size_t width = strategy_width(r.top);
    std::cout << fmt::format("{:>3}  {:<{}} {:>10} {:>10} {:>10} {:>6} {:>19} {:>6} {:>6}\n", "#", "strategy", width,
                             "step (est)", "step (sim)", "tokens/s", "MFU", "memory/GPU", "bubble", "comm");
    for (size_t i = 0; i < r.top.size(); ++i) std::cout << table_row(i + 1, r.top[i], p.cluster, width);
    if (r.top.size() > 1) {
      std::cout << "\n";
      for (const auto& line : explain_difference(r.top[0], r.top[1], so.objective)) std::cout << line << "\n";
    }
  }
  std::cout << fmt::format("\nconsidered {} strategies in {:.2f} s on {} threads{}: {} feasible", r.considered, wall_s,
                           so.threads, r.timed_out ? " (time limit hit: best so far)" : "", r.feasible);
  for (size_t i = 1; i < r.rejected.size(); ++i)
    if (r.rejected[i] > 0) std::cout << fmt::format(", {} {}", r.rejected[i], reason_name(static_cast<Reason>(i)));
  std::cout << "\n";
  for (const auto& n : r.not_searched) std::cout << "not searched: " << n << "\n";
}
}  // namespace

void register_plan(CLI::App& app) {
  auto o = std::make_shared<PlanOptions>();
  auto* cmd = app.add_subcommand("plan", "Search every split and rank the plans that fit");
  add_problem_flags(cmd, o->problem);
  o->search.top = 5;
  add_search_flags(cmd, o->search);
  cmd->add_option("--out", o->out, "write the best plan as a plan file (docs/plan-format.md)");
  cmd->add_option("--framework", o->framework,
                  "search only what megatron, deepspeed or torchtitan runs (the `emit --format` rules), "
                  "with its recompute modes (torchtitan: none, op, full)")
      ->check(CLI::IsMember({"megatron", "deepspeed", "torchtitan"}));
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] { run_plan(*o); });
}

}  // namespace shardplan::cli
