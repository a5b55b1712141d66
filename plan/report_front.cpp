// The Pareto front with its strategies: the same enumeration and feasibility test as search(),
// every feasible (memory, time) kept with its index, then one sweep. SearchResult::pareto holds
// the same points without strategies; the report needs them to colour and label each point.
#include <algorithm>
#include <atomic>
#include <thread>
#include <tuple>

#include "plan/report.hpp"

namespace shardplan {

std::vector<Candidate> pareto_candidates(const OpGraph& g, const ClusterSpec& cluster,
                                         const SearchSpace& space, const SearchOptions& o) {
  const std::vector<Strategy> all = enumerate_space(g, cluster, space, o);
  const double capacity = cluster.gpu.memory_bytes * (1 - o.memory_headroom);
  using Point = std::tuple<double, double, size_t>;  // memory, time, index: a total order
  const int threads = std::max(1, o.threads);
  std::vector<std::vector<Point>> found(static_cast<size_t>(threads));
  std::atomic<size_t> next{0};
  auto worker = [&](int id) {
    Estimator est(g, cluster, EstimatorOptions{o.allow_tp_across_nodes});
    for (size_t i; (i = next.fetch_add(1)) < all.size();) {
      Estimate e = est.estimate(all[i]);
      if (e.valid() && e.peak_memory_bytes <= capacity)
        found[static_cast<size_t>(id)].emplace_back(e.peak_memory_bytes, e.step_time_s, i);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& t : pool) t.join();
  std::vector<Point> points;
  for (auto& f : found) points.insert(points.end(), f.begin(), f.end());
  std::sort(points.begin(), points.end());
  std::vector<Candidate> front;
  Estimator est(g, cluster, EstimatorOptions{o.allow_tp_across_nodes});
  double best = 0;
  for (const auto& [mem, time, i] : points) {
    if (!front.empty() && time >= best) continue;
    best = time;
    front.push_back(Candidate{all[i], est.estimate(all[i]), time});
  }
  return front;
}

std::string field_value(const Strategy& s, const std::string& f) {
  if (f == "tp") return std::to_string(s.tp);
  if (f == "pp") return std::to_string(s.pp);
  if (f == "dp") return std::to_string(s.dp);
  if (f == "cp") return std::to_string(s.cp);
  if (f == "ep") return std::to_string(s.ep);
  if (f == "vp") return std::to_string(s.vp);
  if (f == "zero") return std::to_string(s.zero);
  if (f == "recompute") return recompute_name(s.recompute);
  if (f == "micro_batch") return std::to_string(s.micro_batch);
  if (f == "schedule") return schedule_name(s.schedule);
  return "";
}

std::string most_varied_field(const std::vector<Candidate>& front) {
  // In order of preference on ties: the splits first, then the memory savers.
  static const char* fields[] = {"pp", "tp",   "dp",        "cp",          "ep",
                                 "vp", "zero", "recompute", "micro_batch", "schedule"};
  std::string best = "pp";
  size_t best_count = 0;
  for (const char* f : fields) {
    std::vector<std::string> values;
    for (const auto& c : front) values.push_back(field_value(c.strategy, f));
    std::sort(values.begin(), values.end());
    const size_t n =
        static_cast<size_t>(std::unique(values.begin(), values.end()) - values.begin());
    if (n > best_count) best = f, best_count = n;
  }
  return best;
}

}  // namespace shardplan
