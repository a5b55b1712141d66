// The four schedules. Each generator is the published order written out: GPipe (all forwards,
// then all backwards), 1F1B (PipeDream-Flush / Megatron), Megatron's interleaved 1F1B, and ZB-H1
// (Qi et al. 2023). Tested for the bubble each paper states in tests/simulator/.
#include "simulator/schedule.hpp"

#include <algorithm>

namespace shardplan {

const char* pass_kind_name(Pass::Kind k) {
  static const char* n[] = {"F", "B", "W"};
  return n[k];
}

std::string schedule_error(Schedule schedule, int64_t pp, int64_t vp, int64_t micro_batches) {
  if (pp < 1) return "pp must be at least 1";
  if (vp < 1) return "vp must be at least 1";
  if (micro_batches < 1) return "micro-batches must be at least 1";
  if (vp > 1 && schedule != Schedule::interleaved)
    return std::string("vp > 1 needs the interleaved schedule, not ") + schedule_name(schedule);
  if (vp > 1 && micro_batches % pp != 0)
    return "interleaved schedule: micro-batches (" + std::to_string(micro_batches) +
           ") must be a multiple of pp (" + std::to_string(pp) + ")";
  return "";
}

namespace {

std::vector<Pass> gpipe(int64_t m) {
  std::vector<Pass> out;
  out.reserve(2 * m);
  for (int64_t i = 0; i < m; ++i) out.push_back({Pass::F, i, 0});
  for (int64_t i = 0; i < m; ++i) out.push_back({Pass::B, i, 0});
  return out;
}

// 1F1B (Narayanan et al. SC'21 §2.2): stage s runs pp - s - 1 warm-up forwards, then alternates
// one forward and one backward, then drains the backwards; so at most pp - s micro-batches are
// in flight (forward done, backward not) on stage s.
std::vector<Pass> one_f_one_b(int64_t pp, int64_t stage, int64_t m) {
  std::vector<Pass> out;
  out.reserve(2 * m);
  int64_t warmup = std::min(pp - stage - 1, m);
  for (int64_t i = 0; i < warmup; ++i) out.push_back({Pass::F, i, 0});
  for (int64_t i = warmup; i < m; ++i) {
    out.push_back({Pass::F, i, 0});
    out.push_back({Pass::B, i - warmup, 0});
  }
  for (int64_t i = m - warmup; i < m; ++i) out.push_back({Pass::B, i, 0});
  return out;
}

// Megatron-LM forward_backward_pipelining_with_interleaving: the k-th forward of a stage is
// micro-batch (k / (pp*vp)) * pp + k % pp of chunk (k % (pp*vp)) / pp; backwards walk the chunks in
// reverse. Warm-up: (pp - stage - 1) * 2 + (vp - 1) * pp forwards, at most all of them (as in
// Megatron-Core's get_pp_rank_microbatches; older releases ran all forwards first when m == pp).
std::vector<Pass> interleaved(int64_t pp, int64_t vp, int64_t stage, int64_t m) {
  const int64_t total = m * vp, group = pp * vp;
  auto mb = [&](int64_t k) { return (k / group) * pp + k % pp; };
  auto chunk = [&](int64_t k, bool fwd) {
    int64_t c = (k % group) / pp;
    return fwd ? c : vp - 1 - c;
  };
  int64_t warmup = std::min((pp - stage - 1) * 2 + (vp - 1) * pp, total);
  std::vector<Pass> out;
  out.reserve(2 * total);
  for (int64_t k = 0; k < warmup; ++k) out.push_back({Pass::F, mb(k), chunk(k, true)});
  for (int64_t k = 0; k < total - warmup; ++k) {
    out.push_back({Pass::F, mb(warmup + k), chunk(warmup + k, true)});
    out.push_back({Pass::B, mb(k), chunk(k, false)});
  }
  for (int64_t k = std::max<int64_t>(total - warmup, 0); k < total; ++k)
    out.push_back({Pass::B, mb(k), chunk(k, false)});
  return out;
}

// ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", 2023, §3.1, Fig. 3): the F/B order of
// 1F1B (so at most pp - s micro-batches between F and B on stage s), with each W postponed:
// stage s keeps s weight-gradient passes pending, running W of micro-batch k after B of k + s,
// and the rest at the end. Later stages idle less at the start, so they absorb the W's; with
// F = B = W the bubble is (pp - 1)(F + B - W), a third of 1F1B's (pp - 1)(F + B + W).
std::vector<Pass> zb_h1(int64_t pp, int64_t stage, int64_t m) {
  std::vector<Pass> out;
  out.reserve(3 * m);
  int64_t nw = 0;
  for (const Pass& p : one_f_one_b(pp, stage, m)) {
    out.push_back(p);
    if (p.kind == Pass::B && p.micro_batch - nw >= stage) out.push_back({Pass::W, nw++, 0});
  }
  while (nw < m) out.push_back({Pass::W, nw++, 0});
  return out;
}

}  // namespace

std::vector<std::vector<Pass>> make_schedule(Schedule schedule, int64_t pp, int64_t vp,
                                             int64_t micro_batches) {
  if (!schedule_error(schedule, pp, vp, micro_batches).empty()) return {};
  std::vector<std::vector<Pass>> out(pp);
  for (int64_t s = 0; s < pp; ++s) {
    switch (schedule) {
      case Schedule::gpipe:
        out[s] = gpipe(micro_batches);
        break;
      case Schedule::one_f_one_b:
        out[s] = one_f_one_b(pp, s, micro_batches);
        break;
      case Schedule::interleaved:
        out[s] =
            vp == 1 ? one_f_one_b(pp, s, micro_batches) : interleaved(pp, vp, s, micro_batches);
        break;
      case Schedule::zero_bubble:
        out[s] = zb_h1(pp, s, micro_batches);
        break;
    }
  }
  return out;
}

}  // namespace shardplan
