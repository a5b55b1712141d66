// Per-rank pass orders of the pipeline schedules, and a simulator that checks they interlock.
#include "executor/schedule.hpp"

#include <deque>
#include <set>
#include <tuple>

namespace shardplan::executor {

std::string schedule_problem(Schedule s, int pp, int vp, int m) {
  if (pp < 1 || vp < 1 || m < 1) return "pp, vp and micro-batches must be at least 1";
  if (vp > 1 && s != Schedule::interleaved)
    return "vp=" + std::to_string(vp) + " needs the interleaved schedule";
  // As the estimate has it (Estimator::check): interleaving is virtual stages on a pipeline.
  if (s == Schedule::interleaved && (pp < 2 || vp < 2)) return "the interleaved schedule needs pp > 1 and vp > 1";
  if (s == Schedule::interleaved && vp > 1 && m % pp != 0)
    return "the interleaved schedule needs micro-batches per replica (" + std::to_string(m) +
           ") divisible by pp (" + std::to_string(pp) + ")";
  return "";
}

namespace {

std::vector<PipelinePass> one_f_one_b(int pp, int r, int m, bool split) {
  std::vector<PipelinePass> out;
  const int warmup = std::min(pp - r - 1, m);
  // ZB-H1 (Qi et al. 2023 §2.1): stage r defers r W passes, so every stage holds at most pp
  // micro-batches between F and W, the first stage's 1F1B peak.
  const size_t max_pending = static_cast<size_t>(r);
  std::deque<int> pending;
  auto backward = [&](int mb, bool cooldown) {
    out.push_back({PassKind::backward, mb, 0});
    if (!split) return;
    pending.push_back(mb);
    while (pending.size() > max_pending || (cooldown && !pending.empty())) {
      out.push_back({PassKind::weight, pending.front(), 0});
      pending.pop_front();
      if (cooldown) break;  // one W per bubble
    }
  };
  for (int i = 0; i < warmup; ++i) out.push_back({PassKind::forward, i, 0});
  for (int i = 0; i < m - warmup; ++i) {
    out.push_back({PassKind::forward, warmup + i, 0});
    backward(i, false);
  }
  for (int i = m - warmup; i < m; ++i) backward(i, true);
  for (int mb : pending) out.push_back({PassKind::weight, mb, 0});
  return out;
}

// Megatron-LM forward_backward_pipelining_with_interleaving: virtual micro-batch k runs chunk
// (k mod pp·vp) / pp (reversed for backward) of micro-batch (k / (pp·vp))·pp + k mod pp.
std::vector<PipelinePass> interleaved(int pp, int vp, int r, int m) {
  const int total = m * vp, group = pp * vp;
  auto pass = [&](PassKind kind, int k) {
    int chunk = (k % group) / pp;
    if (kind == PassKind::backward) chunk = vp - 1 - chunk;
    return PipelinePass{kind, (k / group) * pp + k % pp, chunk};
  };
  // Megatron-Core's get_pp_rank_microbatches (older releases ran every forward first when m == pp).
  int warmup = std::min(total, (pp - r - 1) * 2 + (vp - 1) * pp);
  std::vector<PipelinePass> out;
  for (int k = 0; k < warmup; ++k) out.push_back(pass(PassKind::forward, k));
  for (int k = 0; k < total - warmup; ++k) {
    out.push_back(pass(PassKind::forward, warmup + k));
    out.push_back(pass(PassKind::backward, k));
  }
  for (int k = total - warmup; k < total; ++k) out.push_back(pass(PassKind::backward, k));
  return out;
}

}  // namespace

std::vector<PipelinePass> pipeline_order(Schedule s, int pp, int vp, int r, int m) {
  if (s == Schedule::gpipe) {
    std::vector<PipelinePass> out;
    for (int i = 0; i < m; ++i) out.push_back({PassKind::forward, i, 0});
    for (int i = 0; i < m; ++i) out.push_back({PassKind::backward, i, 0});
    return out;
  }
  if (s == Schedule::interleaved && vp > 1) return interleaved(pp, vp, r, m);
  return one_f_one_b(pp, r, m, s == Schedule::zero_bubble);
}

ScheduleRun simulate_schedule(Schedule s, int pp, int vp, int m) {
  const int stages = pp * vp;
  std::vector<std::vector<PipelinePass>> orders;
  for (int r = 0; r < pp; ++r) orders.push_back(pipeline_order(s, pp, vp, r, m));
  std::set<std::tuple<int, int, int>> done;  // (kind, micro-batch, virtual stage)
  std::vector<size_t> next(pp, 0);
  ScheduleRun run;
  run.peak_in_flight.assign(pp, 0);
  std::vector<int> in_flight(pp, 0);
  const bool split = splits_weight_grads(s);
  for (bool progress = true; progress;) {
    progress = false;
    for (int r = 0; r < pp; ++r) {
      while (next[r] < orders[r].size()) {
        const PipelinePass& p = orders[r][next[r]];
        const int v = p.chunk * pp + r;
        auto has = [&](PassKind k, int stage) {
          return done.count({static_cast<int>(k), p.micro_batch, stage}) > 0;
        };
        bool ready = false;
        if (p.kind == PassKind::forward) ready = v == 0 || has(PassKind::forward, v - 1);
        if (p.kind == PassKind::backward)
          ready = has(PassKind::forward, v) && (v == stages - 1 || has(PassKind::backward, v + 1));
        if (p.kind == PassKind::weight) ready = has(PassKind::backward, v);
        if (!ready) break;
        done.insert({static_cast<int>(p.kind), p.micro_batch, v});
        if (p.kind == PassKind::forward) ++in_flight[r];
        if (p.kind == (split ? PassKind::weight : PassKind::backward)) --in_flight[r];
        run.peak_in_flight[r] = std::max(run.peak_in_flight[r], in_flight[r]);
        ++next[r];
        progress = true;
      }
    }
  }
  run.completes = true;
  for (int r = 0; r < pp; ++r) run.completes = run.completes && next[r] == orders[r].size();
  return run;
}

void stage_layers(const std::vector<int64_t>& bounds, int64_t layers, int stages, int v, int64_t& first,
                  int64_t& last) {
  if (!bounds.empty()) {
    first = bounds[static_cast<size_t>(v)], last = bounds[static_cast<size_t>(v) + 1];
    return;
  }
  const int64_t base = layers / stages, extra = layers % stages;
  first = v * base + std::min<int64_t>(v, extra);
  last = first + base + (v < extra ? 1 : 0);
}

}  // namespace shardplan::executor
