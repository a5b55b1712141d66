// Advice when nothing fits. Every suggestion is a search of the changed problem that found a plan:
// first each dimension the space restricts opened to all its values (a flag to drop), then the
// fewest GPUs that fit (doubling, then whole nodes in order, or bisecting), then less memory kept free
// (when the closest miss fits in the GPU, only not within --memory-headroom), then gradients
// reduced in 16 bits (2 bytes per parameter less; it changes the numerics), then a smaller global
// batch.
#include "planner/advise.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.hpp"

namespace {
// How far over, in whole percent (as a double: a sequence of 2^30 tokens overflows an int).
std::string percent_over(double need, double capacity) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", std::ceil((need / capacity - 1) * 100));
  return buf;
}
}  // namespace

namespace shardplan {

namespace {
std::string gib(double b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f GiB", b / (1024.0 * 1024 * 1024));
  return buf;
}

class Trials {
 public:
  Trials(const OpGraph& g, const ClusterSpec& base, const SearchOptions& o, double limit_s, double budget_s)
      : g_(g), base_(base), o_(o), limit_s_(limit_s), budget_s_(budget_s) {}

  // The best plan of the problem with these changes, if one fits (and time is left).
  std::optional<Candidate> best(const SearchSpace& space, int64_t gpus, int64_t global_batch,
                                std::optional<DType> grad_reduce = std::nullopt,
                                std::optional<double> headroom = std::nullopt) {
    const double left = budget_s_ - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (left <= 0) {
      cut_short = true;
      return std::nullopt;
    }
    ClusterSpec cl = base_;
    try {
      cl.set_gpu_count(gpus);
    } catch (const UsageError&) {
      return std::nullopt;  // not whole nodes
    }
    SearchOptions so = o_;
    so.gpus = gpus, so.global_batch = global_batch;
    so.top_k = 1, so.progress = nullptr, so.keep_pareto_strategies = false;
    so.time_limit_s = std::min(limit_s_, left);
    if (grad_reduce) so.grad_reduce = *grad_reduce;
    if (headroom) so.memory_headroom = *headroom;
    SearchResult r = search(g_, cl, space, so);
    if (r.top.empty()) return std::nullopt;
    return r.top.front();
  }

 private:
  const OpGraph& g_;
  const ClusterSpec& base_;
  const SearchOptions& o_;
  double limit_s_, budget_s_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();

 public:
  bool cut_short = false;
};

// The dimensions a space may restrict, each with how to open it and its flag.
template <class F>
void for_each_restriction(const SearchSpace& s, F&& f) {
  auto open = [&](bool restricted, const char* flag, auto member) {
    if (!restricted) return;
    SearchSpace wider = s;
    (wider.*member).clear();
    f(wider, flag);
  };
  open(!s.zero.empty(), "--zero", &SearchSpace::zero);
  open(!s.recompute.empty(), "--recompute", &SearchSpace::recompute);
  open(!s.micro_batch.empty(), "--micro-batch", &SearchSpace::micro_batch);
  open(!s.tp.empty(), "--tp", &SearchSpace::tp);
  open(!s.pp.empty(), "--pp", &SearchSpace::pp);
  open(!s.cp.empty(), "--cp", &SearchSpace::cp);
  open(!s.vp.empty(), "--vp", &SearchSpace::vp);
  open(!s.ep.empty(), "--ep", &SearchSpace::ep);
  open(!s.schedule.empty(), "--schedule", &SearchSpace::schedule);
  open(!s.sp.empty(), "--sp", &SearchSpace::sp);
}
}  // namespace

NothingFits advise_when_nothing_fits(const OpGraph& g, const ClusterSpec& base, const SearchSpace& space,
                                     const SearchOptions& o, const SearchResult& r, double trial_time_s,
                                     double budget_s) {
  NothingFits out;
  const int64_t oom = r.rejected[static_cast<size_t>(Reason::out_of_memory)];
  if (!r.has_closest_oom) {
    out.diagnosis.push_back("no valid strategy (" + std::to_string(r.considered) +
                            " considered): every one breaks a rule of the model, GPU count or batch (counts per "
                            "reason below)");
  } else {
    out.diagnosis.push_back("no strategy fits in memory (" + std::to_string(oom) + " of " +
                            std::to_string(r.considered) + " considered are valid but too large)");
    const Estimate& e = r.closest_oom.estimate;
    const double capacity = base.gpu.memory_bytes * (1 - o.memory_headroom);
    const StageMemory& m = e.stages[static_cast<size_t>(e.peak_stage)];
    const double states = m.params_bytes + m.grads_bytes + m.optimizer_bytes;
    out.diagnosis.push_back("the closest, " + strategy_to_string(r.closest_oom.strategy) + ", needs " +
                            gib(e.peak_memory_bytes) + " per GPU against " + gib(capacity) + " usable (" +
                            percent_over(e.peak_memory_bytes, capacity) + "% over); " + (states > m.activations_bytes + m.working_bytes
                                               ? "model states (" + gib(states) + ") dominate"
                                               : "activations (" + gib(m.activations_bytes + m.working_bytes) +
                                                     ") dominate"));
  }
  Trials trials(g, base, o, trial_time_s, budget_s);
  SearchSpace open_all = space;
  std::string flags;
  int restricted = 0;
  for_each_restriction(space, [&](const SearchSpace& wider, const char* flag) {
    if (auto c = trials.best(wider, o.gpus, o.global_batch))
      out.suggestions.push_back({std::string("without ") + flag + " (all its values)", *c, o.gpus});
    for_each_restriction(open_all, [&](const SearchSpace& w, const char* f) {
      if (std::string(f) == flag) open_all = w;
    });
    flags += (flags.empty() ? "" : ", ") + std::string(flag), ++restricted;
  });
  // No one flag is enough: all of them together.
  if (out.suggestions.empty() && restricted > 1)
    if (auto c = trials.best(open_all, o.gpus, o.global_batch))
      out.suggestions.push_back({"without " + flags + " (all their values)", *c, o.gpus});
  // The fewest GPUs. Fitting is not monotone in the GPU count (the batch, heads and layers must
  // divide what each count allows: 24 GPUs may fit where 32 and 64 do not), so after doubling
  // (up to 64x) the whole-node counts above the given one are tried in order, up to the first
  // doubling that fits, kScanNodes of them at most; past those, bisection between the largest
  // count that failed and that doubling. With the restricted dimensions opened too when the space
  // as given fits on none.
  constexpr int64_t kScanNodes = 16;
  const int64_t node = std::max<int64_t>(1, std::min(base.gpus_per_node, o.gpus));
  auto fewest_gpus = [&](const SearchSpace& sp, const std::string& also) {
    // Each count is searched once: the scan passes the doublings already tried.
    std::map<int64_t, std::optional<Candidate>> tried;
    auto fits = [&](int64_t n) -> std::optional<Candidate> {
      auto it = tried.find(n);
      if (it == tried.end()) it = tried.emplace(n, trials.best(sp, n, o.global_batch)).first;
      return it->second;
    };
    int64_t lo = o.gpus, hi = 0;
    std::optional<Candidate> at_hi;
    for (int64_t n = 2 * o.gpus; n <= 64 * o.gpus && !hi; n *= 2) {
      if (auto c = fits(n)) hi = n, at_hi = c;
      else lo = n;
    }
    const int64_t limit = hi ? hi : 64 * o.gpus + 1;
    int64_t n = (o.gpus / node + 1) * node, scanned = 0;
    bool found = false;
    for (; n < limit && scanned < kScanNodes; n += node, ++scanned)
      if (auto c = fits(n)) {
        hi = n, at_hi = c, found = true;
        break;
      }
    if (!hi) return false;
    const bool exact = (found || n >= limit) && !trials.cut_short;
    if (!exact) {
      lo = std::max(lo, n - node);
      while (hi - lo > node) {
        const int64_t mid = (lo + hi) / 2 / node * node;
        if (mid <= lo || mid >= hi) break;
        if (auto c = fits(mid)) hi = mid, at_hi = c;
        else lo = mid;
      }
    }
    out.suggestions.push_back({"--gpus " + std::to_string(hi) + " (now " + std::to_string(o.gpus) +
                                   (exact ? "; the fewest whole nodes that fit)" : "; the fewest found)") + also,
                               *at_hi, hi});
    return true;
  };
  // More GPUs or a smaller batch help a strategy that is too large, not one that breaks a rule.
  if (!r.has_closest_oom) {
    out.cut_short = trials.cut_short;
    return out;
  }
  if (!fewest_gpus(space, "") && restricted > 0) fewest_gpus(open_all, " without " + flags);
  // Less memory kept free: the closest miss fits in the GPU, only not within the headroom. The
  // largest headroom, in whole percent, that leaves room for it.
  const double need = r.closest_oom.estimate.peak_memory_bytes, memory = base.gpu.memory_bytes;
  if (need < memory) {
    const double h = std::floor((1 - need / memory) * 100) / 100;
    if (h < o.memory_headroom)
      if (auto c = trials.best(space, o.gpus, o.global_batch, std::nullopt, h)) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "--memory-headroom %.2f (now %.2f; %.1f%% of each GPU left free)", h,
                      o.memory_headroom, (1 - c->estimate.peak_memory_bytes / memory) * 100);
        out.suggestions.push_back({buf, *c, o.gpus});
      }
  }
  // 16-bit gradients (Megatron's --grad-reduce-in-bf16): 18 -> 16 bytes per parameter unsharded.
  const DType half = sixteen_bit_of(o.precision);
  if (o.grad_reduce == DType::fp32 && half != DType::fp32)
    if (auto c = trials.best(space, o.gpus, o.global_batch, half))
      out.suggestions.push_back({std::string("--grad-reduce-dtype ") + dtype_name(half) +
                                     " (now fp32; 2 bytes per parameter less, reduced in 16 bits)",
                                 *c, o.gpus});
  // A smaller global batch (halving; it changes the training, so it comes last).
  for (int64_t b = o.global_batch / 2, k = 0; b >= 1 && k < 4; b /= 2, ++k)
    if (auto c = trials.best(space, o.gpus, b)) {
      out.suggestions.push_back({"--global-batch " + std::to_string(b) + " (now " + std::to_string(o.global_batch) + ")",
                                 *c, o.gpus});
      break;
    }
  out.cut_short = trials.cut_short;
  return out;
}

}  // namespace shardplan
