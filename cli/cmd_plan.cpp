// `shardplan plan`: search the strategy space and print the best plans, why the best wins, and
// what was rejected and why. Any dimension may be fixed or given as a list ("--tp 4,8").
#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/estimate_json.hpp"
#include "cli/format.hpp"
#include "cli/rerank.hpp"
#include "cli/strategy_flags.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "plan/plan.hpp"
#include "planner/explain.hpp"
#include "planner/search.hpp"

namespace shardplan::cli {

namespace {
struct PlanOptions {
  ProblemFlags problem;
  std::string tp, pp, cp, ep, vp, micro_batch, zero, recompute, schedule, sp, tp_comm_overlap;
  std::string objective = "time", out;
  double headroom = 0.1, time_limit = 0;
  int64_t top = 5;
  int threads = 0;
  bool json = false, no_flash = false, no_overlap_grad_reduce = false;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int64_t> int_list(const std::string& flag, const std::string& s) {
  std::vector<int64_t> out;
  for (const auto& x : split_list(s)) {
    try {
      size_t pos = 0;
      long long v = std::stoll(x, &pos);
      if (pos != x.size() || v < 0) throw std::invalid_argument(x);
      out.push_back(v);
    } catch (const std::exception&) {
      throw UsageError("--" + flag + " " + s + ": expected a comma-separated list of non-negative integers");
    }
  }
  return out;
}

SearchSpace space_from(const PlanOptions& o) {
  SearchSpace sp;
  sp.tp = int_list("tp", o.tp);
  sp.pp = int_list("pp", o.pp);
  sp.cp = int_list("cp", o.cp);
  sp.ep = int_list("ep", o.ep);
  sp.vp = int_list("vp", o.vp);
  sp.micro_batch = int_list("micro-batch", o.micro_batch);
  for (int64_t z : int_list("zero", o.zero)) {
    if (z > 3) throw UsageError("--zero: expected values in 0..3");
    sp.zero.push_back(static_cast<int>(z));
  }
  for (const auto& r : split_list(o.recompute)) {
    Recompute x;
    if (!parse_recompute(r, x)) throw UsageError("--recompute " + r + ": expected none, selective or full");
    sp.recompute.push_back(x);
  }
  for (const auto& r : split_list(o.schedule)) {
    Schedule x;
    if (!parse_schedule(r, x)) throw UsageError("--schedule " + r + ": expected gpipe, 1f1b, interleaved or zb");
    sp.schedule.push_back(x);
  }
  for (const auto& r : split_list(o.sp)) {
    if (r != "on" && r != "off") throw UsageError("--sp " + r + ": expected on, off or on,off");
    sp.sp.push_back(r == "on");
  }
  for (const auto& r : split_list(o.tp_comm_overlap)) {
    if (r != "on" && r != "off") throw UsageError("--tp-comm-overlap " + r + ": expected on, off or on,off");
    sp.tp_comm_overlap.push_back(r == "on");
  }
  return sp;
}

std::string table_row(size_t rank, const Candidate& c, const ClusterSpec& cl) {
  const Estimate& e = c.estimate;
  return fmt::format("{:>3}  {:<58} {:>10} {:>10} {:>10.0f} {:>5.1f}% {:>9}/{:<9} {:>5.1f}% {:>5.1f}%\n", rank,
                     strategy_to_string(c.strategy), human_seconds(e.step_time_s), human_seconds(c.simulated_step_s),
                     e.tokens_per_s, 100 * e.mfu,
                     human_bytes(e.peak_memory_bytes), human_bytes(cl.gpu.memory_bytes), 100 * e.bubble_fraction,
                     100 * e.exposed_comm_fraction);
}

void run_plan(const PlanOptions& o) {
  Problem p = resolve_problem(o.problem);
  SearchOptions so;
  so.gpus = p.gpus;
  so.global_batch = p.global_batch;
  so.precision = p.precision;
  so.objective = o.objective == "memory" ? Objective::memory : o.objective == "cost" ? Objective::cost : Objective::time;
  so.memory_headroom = o.headroom;
  so.top_k = o.top;
  so.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  so.time_limit_s = o.time_limit;
  so.flash_attention = !o.no_flash;
  so.overlap_grad_reduce = !o.no_overlap_grad_reduce;
  so.allow_tp_across_nodes = o.problem.allow_tp_across_nodes;
  const bool tty = !o.json && isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  if (tty) {
    so.progress = [start](double f) {
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 1) return;
      int w = static_cast<int>(f * 40);
      std::cerr << "\r[" << std::string(w, '#') << std::string(40 - w, ' ') << "] " << int(f * 100) << "%" << std::flush;
    };
  }
  SearchResult r = search(p.model.graph, p.cluster, space_from(o), so);
  if (tty) std::cerr << "\r" << std::string(50, ' ') << "\r";
  rerank_with_simulator(r.top, p.model.graph, p.cluster, so.objective);
  nlohmann::ordered_json j;
  j["plans"] = nlohmann::ordered_json::array();
  for (const auto& c : r.top) {
    j["plans"].push_back(estimate_json(c.estimate, c.strategy, p.model.graph));
    j["plans"].back()["simulated_step_time_s"] = c.simulated_step_s;
  }
  auto& sj = j["search"];
  sj["considered"] = r.considered;
  sj["feasible"] = r.feasible;
  for (size_t i = 1; i < r.rejected.size(); ++i) sj["rejected"][reason_name(static_cast<Reason>(i))] = r.rejected[i];
  sj["timed_out"] = r.timed_out;
  sj["wall_s"] = r.wall_s;
  sj["threads"] = so.threads;
  if (!o.out.empty()) {
    if (r.top.empty()) throw UsageError("no feasible plan to write to " + o.out);
    const Candidate& best = r.top.front();
    Plan plan = make_plan(p.model, p.cluster, best.strategy, so.allow_tp_across_nodes, best.estimate.chunk_bounds,
                          estimate_json(best.estimate, best.strategy, p.model.graph));
    write_file_atomically(o.out, plan_to_text(plan));
  }
  if (o.json) {
    // wall_s differs run to run; everything else is deterministic.
    std::cout << j.dump(1) << "\n";
    return;
  }
  std::cout << fmt::format("{} on {} x {} ({}), global batch {} x {} tokens, objective {}\n\n", p.model.graph.name,
                           p.gpus, p.cluster.gpu.name, p.cluster.name, p.global_batch, p.model.graph.seq_len, o.objective);
  if (r.top.empty()) {
    for (const auto& line : suggest_when_nothing_fits(r, p.cluster, so)) std::cout << line << "\n";
  } else {
    std::cout << fmt::format("{:>3}  {:<58} {:>10} {:>10} {:>10} {:>6} {:>19} {:>6} {:>6}\n", "#", "strategy",
                             "step (est)", "step (sim)", "tokens/s", "MFU", "memory/GPU", "bubble", "comm");
    for (size_t i = 0; i < r.top.size(); ++i) std::cout << table_row(i + 1, r.top[i], p.cluster);
    if (r.top.size() > 1) {
      std::cout << "\n";
      for (const auto& line : explain_difference(r.top[0], r.top[1])) std::cout << line << "\n";
    }
  }
  std::cout << fmt::format("\nconsidered {} strategies in {:.2f} s on {} threads{}: {} feasible", r.considered, r.wall_s,
                           so.threads, r.timed_out ? " (time limit hit: best so far)" : "", r.feasible);
  for (size_t i = 1; i < r.rejected.size(); ++i)
    if (r.rejected[i] > 0) std::cout << fmt::format(", {} {}", r.rejected[i], reason_name(static_cast<Reason>(i)));
  std::cout << "\n";
}
}  // namespace

void register_plan(CLI::App& app) {
  auto o = std::make_shared<PlanOptions>();
  auto* cmd = app.add_subcommand("plan", "Search every split and rank the plans that fit");
  add_problem_flags(cmd, o->problem);
  cmd->add_option("--tp", o->tp, "tensor parallel sizes to consider (list)");
  cmd->add_option("--pp", o->pp, "pipeline parallel sizes (list)");
  cmd->add_option("--cp", o->cp, "context parallel sizes (list)");
  cmd->add_option("--ep", o->ep, "expert parallel sizes (list)");
  cmd->add_option("--vp", o->vp, "virtual pipeline chunks (list)");
  cmd->add_option("--micro-batch", o->micro_batch, "micro-batch sizes (list)");
  cmd->add_option("--zero", o->zero, "ZeRO stages (list)");
  cmd->add_option("--recompute", o->recompute, "recompute modes (list)");
  cmd->add_option("--schedule", o->schedule, "schedules (list)");
  cmd->add_option("--sp", o->sp, "sequence parallel: on, off or on,off");
  cmd->add_option("--tp-comm-overlap", o->tp_comm_overlap, "on, off or on,off");
  cmd->add_option("--objective", o->objective, "time, cost or memory")->check(CLI::IsMember({"time", "cost", "memory"}));
  cmd->add_option("--memory-headroom", o->headroom, "fraction of GPU memory kept free")->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--top", o->top, "plans to show")->check(CLI::Range(int64_t{1}, int64_t{1000}));
  cmd->add_option("--threads", o->threads, "worker threads (default: all cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--time-limit", o->time_limit, "stop the search after this many seconds")->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", o->out, "write the best plan as a plan file (docs/plan-format.md)");
  cmd->add_flag("--no-flash-attention", o->no_flash, "unfused attention");
  cmd->add_flag("--no-overlap-grad-reduce", o->no_overlap_grad_reduce, "DP reduction after the backward");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] { run_plan(*o); });
}

}  // namespace shardplan::cli
