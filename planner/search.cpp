// Parallel, deterministic search. Workers take blocks of the enumerated strategies from an
// atomic counter, each with its own Estimator (block-cost cache), keep their own top K and
// counts; the merge sorts by a total order, so any thread count gives the same result.
#include "planner/search.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <tuple>

namespace shardplan {

namespace {
auto key_of(const Strategy& s) {
  return std::make_tuple(s.tp, s.pp, s.cp, s.ep, s.vp, int(s.sp), s.zero, int(s.recompute),
                         s.micro_batch, int(s.schedule), int(s.tp_comm_overlap), int(s.ep_comm_overlap), s.dp);
}

double score_of(const Estimate& e, Objective obj, int64_t gpus) {
  switch (obj) {
    case Objective::memory:
      return e.peak_memory_bytes;
    case Objective::cost:
      return double(gpus) / e.tokens_per_s;  // GPU-seconds per token
    default:
      return e.step_time_s;
  }
}

// One feasible point with its strategy, ordered by memory, time, then the strategy's fields.
struct FrontPoint {
  double memory_bytes = 0, step_time_s = 0;
  Strategy strategy;
};
bool front_less(const FrontPoint& a, const FrontPoint& b) {
  return std::tie(a.memory_bytes, a.step_time_s) < std::tie(b.memory_bytes, b.step_time_s) ||
         (a.memory_bytes == b.memory_bytes && a.step_time_s == b.step_time_s &&
          key_of(a.strategy) < key_of(b.strategy));
}
// Keeps the Pareto front of `pts` (each point strictly faster than every one before it in
// front_less order). A point dropped here is dropped from any superset too, so workers prune
// their own points and the merge gives the same front for any thread count.
void prune_to_front(std::vector<FrontPoint>& pts) {
  std::sort(pts.begin(), pts.end(), front_less);
  std::vector<FrontPoint> kept;
  for (auto& p : pts)
    if (kept.empty() || p.step_time_s < kept.back().step_time_s) kept.push_back(std::move(p));
  pts = std::move(kept);
}

struct WorkerResult {
  std::vector<Candidate> top;
  std::array<int64_t, static_cast<size_t>(Reason::kCount)> rejected{};
  int64_t considered = 0, feasible = 0;
  Candidate closest_oom;
  bool has_oom = false;
  std::vector<std::pair<double, double>> points;
  std::vector<FrontPoint> front;  // with keep_pareto_strategies; pruned as it grows
};

void keep_top(std::vector<Candidate>& top, Candidate c, size_t k) {
  auto it = std::lower_bound(top.begin(), top.end(), c, candidate_less);
  if (top.size() >= k && it == top.end()) return;
  top.insert(it, std::move(c));
  if (top.size() > k) top.pop_back();
}
}  // namespace

void set_zero_stage(Strategy& s, int zero, const SearchOptions& o) {
  s.zero = zero;
  s.zero3_impl = zero == 3 ? o.zero3_impl : Zero3Impl::fsdp;
  s.fp8_param_gather = o.fp8_param_gather && fp8_param_gather_allowed(o.precision, zero);
}

bool zero_twin(const Strategy& s, const std::vector<int>& zeros, bool has_experts) {
  if (s.zero == 2 && s.pp > 1 && std::find(zeros.begin(), zeros.end(), 1) != zeros.end()) return true;
  const bool nothing_to_shard = s.dp * s.cp == 1 && (!has_experts || s.expert_dp() == 1);
  return nothing_to_shard && !zeros.empty() && s.zero != *std::min_element(zeros.begin(), zeros.end());
}


bool candidate_less(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score < b.score;
  // Equal scores (the same peak memory under --objective memory): the faster first, then the fields.
  if (a.estimate.step_time_s != b.estimate.step_time_s) return a.estimate.step_time_s < b.estimate.step_time_s;
  return key_of(a.strategy) < key_of(b.strategy);
}

SearchResult search(const OpGraph& g, const ClusterSpec& cluster, const SearchSpace& space,
                    const SearchOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  // Enumerate with one ZeRO stage and one recompute mode, then expand those two innermost
  // dimensions in the workers: 12x less memory for the strategy list.
  const std::vector<int> zeros = space.zero.empty() ? std::vector<int>{0, 1, 2, 3} : space.zero;
  const std::vector<Recompute> recomputes =
      space.recompute.empty()
          ? std::vector<Recompute>{Recompute::none, Recompute::selective, Recompute::full}
          : space.recompute;
  SearchSpace outer = space;
  outer.zero = {zeros.front()};
  outer.recompute = {recomputes.front()};
  std::vector<Strategy> all = enumerate_space(g, cluster, outer, o);
  const bool experts = g.experts() > 0;
  std::vector<std::string> not_searched = unused_values(g, outer, o, all);
  const int threads = std::max(1, o.threads);
  std::vector<WorkerResult> results(threads);
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  const size_t block = 2048;
  const double capacity = cluster.gpu.memory_bytes * (1 - o.memory_headroom);
  auto over_time = [&] {
    return o.time_limit_s > 0 &&
           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > o.time_limit_s;
  };
  auto worker = [&](int id) {
    Estimator est(g, cluster, EstimatorOptions{o.allow_tp_across_nodes, false, capacity});
    WorkerResult& r = results[id];
    const size_t k = static_cast<size_t>(std::max<int64_t>(1, o.top_k));
    while (!stop.load(std::memory_order_relaxed)) {
      size_t begin = next.fetch_add(block);
      if (begin >= all.size()) break;
      size_t end = std::min(all.size(), begin + block);
      for (size_t i = begin; i < end; ++i) {
        // Checked every 8 strategies too: on a huge model one block of 2048 takes seconds.
        if ((i - begin) % 8 == 7 && (stop.load(std::memory_order_relaxed) || over_time())) {
          stop = true;
          break;
        }
        const bool expand =
            all[i].dp * all[i].micro_batch <= o.global_batch && o.global_batch % all[i].dp == 0;
        for (size_t zi = 0; zi < (expand ? zeros.size() : 1); ++zi) {
          for (size_t ri = 0; ri < (expand ? recomputes.size() : 1); ++ri) {
            Strategy s = all[i];
            set_zero_stage(s, zeros[zi], o);
            s.recompute = recomputes[ri];
            if (zero_twin(s, zeros, experts)) continue;
            r.considered++;
            if (o.admit && !o.admit(s)) {
              r.rejected[static_cast<size_t>(Reason::framework)]++;
              continue;
            }
            Estimate e = est.estimate(s);
            if (!e.valid()) {
              r.rejected[static_cast<size_t>(e.reason)]++;
              continue;
            }
            if (o.accept && !o.accept(s, e)) {
              r.rejected[static_cast<size_t>(Reason::framework)]++;
              continue;
            }
            if (e.peak_memory_bytes > capacity) {
              r.rejected[static_cast<size_t>(Reason::out_of_memory)]++;
              Candidate c{s, e, e.peak_memory_bytes - capacity};
              if (!r.has_oom || candidate_less(c, r.closest_oom))
                r.closest_oom = std::move(c), r.has_oom = true;
              continue;
            }
            r.feasible++;
            r.points.emplace_back(e.peak_memory_bytes, e.step_time_s);
            if (o.keep_pareto_strategies) {
              r.front.push_back(FrontPoint{e.peak_memory_bytes, e.step_time_s, s});
              if (r.front.size() >= 8192) prune_to_front(r.front);
            }
            double sc = score_of(e, o.objective, o.gpus);
            if (r.top.size() < k || sc <= r.top.back().score)
              keep_top(r.top, Candidate{s, std::move(e), sc}, k);
          }
        }
      }
      if (over_time()) stop = true;
      // The calling thread searches too and reports progress between its blocks.
      if (id == 0 && o.progress)
        o.progress(std::min(1.0, double(next.load()) / double(std::max<size_t>(1, all.size()))));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& t : pool) t.join();

  SearchResult out;
  out.not_searched = std::move(not_searched);
  out.timed_out = stop.load();
  std::vector<std::pair<double, double>> points;
  for (auto& r : results) {
    out.considered += r.considered;
    out.feasible += r.feasible;
    for (size_t i = 0; i < r.rejected.size(); ++i) out.rejected[i] += r.rejected[i];
    for (auto& c : r.top)
      keep_top(out.top, std::move(c), static_cast<size_t>(std::max<int64_t>(1, o.top_k)));
    if (r.has_oom && (!out.has_closest_oom || candidate_less(r.closest_oom, out.closest_oom)))
      out.closest_oom = r.closest_oom, out.has_closest_oom = true;
    points.insert(points.end(), r.points.begin(), r.points.end());
  }
  if (o.keep_pareto_strategies) {
    std::vector<FrontPoint> front;
    for (auto& r : results) front.insert(front.end(), r.front.begin(), r.front.end());
    prune_to_front(front);
    // As the workers estimated them: the same capacity, so the same memory re-cut.
    Estimator est(g, cluster, EstimatorOptions{o.allow_tp_across_nodes, false, capacity});
    for (const auto& p : front)
      out.pareto_front.push_back(Candidate{p.strategy, est.estimate(p.strategy), p.step_time_s});
  }
  // Pareto front over (memory, time): sort by memory, keep strictly faster points.
  std::sort(points.begin(), points.end());
  double best = 1e300;
  for (const auto& p : points)
    if (p.second < best) out.pareto.push_back(p), best = p.second;
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace shardplan
