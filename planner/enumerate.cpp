// Enumeration of the strategy space: every factorisation of the GPU count into dp*tp*pp*cp,
// ep carved out of dp*cp*tp for MoE, vp for interleaving, and the per-strategy switches. Values
// the frameworks would reject are still enumerated so the search can count why they fail,
// except combinations that are the same strategy twice (sp without tp, vp without interleaving).
#include <algorithm>
#include <type_traits>

#include "planner/search.hpp"

namespace shardplan {

namespace {
std::vector<int64_t> divisors(int64_t n, int64_t cap) {
  std::vector<int64_t> d;
  for (int64_t i = 1; i * i <= n; ++i) {
    if (n % i) continue;
    if (i <= cap) d.push_back(i);
    if (i != n / i && n / i <= cap) d.push_back(n / i);
  }
  std::sort(d.begin(), d.end());
  return d;
}

template <class T>
std::vector<T> or_default(const std::vector<T>& given, std::vector<T> all) {
  return given.empty() ? all : given;
}

// An empty list allows every value.
template <class T>
bool allowed(const std::vector<T>& list, std::type_identity_t<T> v) {
  return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
}
}  // namespace

std::vector<Strategy> enumerate_space(const OpGraph& g, const ClusterSpec& cluster, const SearchSpace& sp,
                                      const SearchOptions& o) {
  std::vector<Strategy> out;
  const int64_t n = o.gpus;
  const int64_t experts = g.experts();
  const int64_t blocks = static_cast<int64_t>(g.blocks.size());
  const int64_t layers = std::max<int64_t>(1, blocks - 2);
  const auto zeros = or_default<int>(sp.zero, {0, 1, 2, 3});
  const auto recomputes = or_default<Recompute>(sp.recompute, {Recompute::none, Recompute::selective, Recompute::full});
  const auto schedules = or_default<Schedule>(
      sp.schedule, {Schedule::gpipe, Schedule::one_f_one_b, Schedule::interleaved, Schedule::zero_bubble});
  for (int64_t tp : divisors(n, n)) {
    if (!allowed(sp.tp, tp)) continue;
    for (int64_t pp : divisors(n / tp, n)) {
      if (!allowed(sp.pp, pp) || pp > layers) continue;
      for (int64_t cp : divisors(n / (tp * pp), n)) {
        if (!allowed(sp.cp, cp)) continue;
        const int64_t dp = n / (tp * pp * cp);
        if (o.global_batch % dp != 0) {
          // Still counted: one representative strategy that the estimator rejects (batch).
          Strategy s;
          s.dp = dp, s.tp = tp, s.pp = pp, s.cp = cp, s.global_batch = o.global_batch;
          s.precision = o.precision, s.grad_reduce = o.grad_reduce;
          out.push_back(s);
          continue;
        }
        const int64_t per_replica = o.global_batch / dp;
        std::vector<int64_t> eps = experts > 0 ? divisors(dp * cp * tp, experts) : std::vector<int64_t>{1};
        for (int64_t ep : eps) {
          if (!allowed(sp.ep, ep) || (experts > 0 && experts % ep != 0)) continue;
          for (Schedule sch : schedules) {
            if (pp == 1 && sch != Schedule::one_f_one_b) continue;  // no pipeline: one schedule
            std::vector<int64_t> vps = {1};
            if (sch == Schedule::interleaved) {
              // pp*vp chunks of whole layers (Megatron's --num-layers-per-virtual-pipeline-stage),
              // or of whole blocks with the embedding and the head counted as one each (its
              // --pipeline-model-parallel-layout, the split of Llama 3 405B's 126 layers into 16 x
              // 2 chunks); any vp the user names, as the estimator cuts any pp*vp <= layers.
              vps.clear();
              for (int64_t v = 2; v * pp <= layers; ++v) {
                const bool even = layers % (v * pp) == 0 || blocks % (v * pp) == 0;
                if (sp.vp.empty() ? even : allowed(sp.vp, v)) vps.push_back(v);
              }
            } else if (!allowed(sp.vp, 1)) {
              continue;
            }
            for (int64_t vp : vps) {
              for (int64_t mb : divisors(per_replica, sp.max_micro_batch)) {
                if (!allowed(sp.micro_batch, mb)) continue;
                for (int spi = 0; spi < (tp > 1 ? 2 : 1); ++spi) {
                  if (!allowed(sp.sp, spi == 1)) continue;
                  for (int ov = 0; ov < (spi ? 2 : 1); ++ov) {
                    if (!allowed(sp.tp_comm_overlap, ov == 1)) continue;
                    for (int z : zeros) {
                      for (Recompute rc : recomputes) {
                        for (int eo = 0; eo < (ep > 1 ? 2 : 1); ++eo) {
                          if (!allowed(sp.ep_comm_overlap, eo == 1)) continue;
                          Strategy s;
                          s.dp = dp, s.tp = tp, s.pp = pp, s.cp = cp, s.ep = ep, s.vp = vp;
                          s.sp = spi == 1, s.tp_comm_overlap = ov == 1, s.recompute = rc;
                          s.ep_comm_overlap = eo == 1;
                          s.micro_batch = mb, s.global_batch = o.global_batch, s.schedule = sch;
                          s.precision = o.precision, s.grad_reduce = o.grad_reduce, s.seq_len = g.seq_len;
                          s.flash_attention = o.flash_attention, s.overlap_grad_reduce = o.overlap_grad_reduce;
                          s.attention_kernel = o.attention_kernel;
                          s.async_tp_backward = o.async_tp_backward;
                          set_zero_stage(s, z, o);
                          if (zero_twin(s, zeros, experts > 0)) continue;
                          out.push_back(s);
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  (void)cluster;
  return out;
}

}  // namespace shardplan
