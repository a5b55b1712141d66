// The values a search space names that no enumerated strategy uses, each with the reason. The
// enumeration drops impossible combinations (a tp that does not divide the GPU count, more stages
// than layers, ep on a dense model) before the estimator sees them, so without these notes a value
// fixed on the command line that can never run would vanish without a word.
#include <algorithm>
#include <set>
#include <string>

#include "planner/search.hpp"

namespace shardplan {

namespace {
std::string str(int64_t v) { return std::to_string(v); }
}  // namespace

std::vector<std::string> unused_values(const OpGraph& g, const SearchSpace& space, const SearchOptions& o,
                                       const std::vector<Strategy>& all) {
  std::set<int64_t> tp, pp, cp, ep, vp, mb;
  std::set<Schedule> schedules;
  bool sp[2] = {}, tp_overlap[2] = {}, ep_overlap[2] = {};
  for (const Strategy& s : all) {
    tp.insert(s.tp), pp.insert(s.pp), cp.insert(s.cp);
    // A dp that does not divide the batch stands for its tp, pp, cp only (counted as 'batch').
    if (o.global_batch % s.dp != 0) continue;
    ep.insert(s.ep), vp.insert(s.vp), mb.insert(s.micro_batch), schedules.insert(s.schedule);
    sp[s.sp] = tp_overlap[s.tp_comm_overlap] = ep_overlap[s.ep_comm_overlap] = true;
  }
  const int64_t experts = g.experts();
  const int64_t layers = std::max<int64_t>(1, static_cast<int64_t>(g.blocks.size()) - 2);
  const int64_t n = o.gpus;
  const std::string others = "no strategy has it together with the other values given";
  std::vector<std::string> out;
  auto note = [&](const std::string& what, const std::string& why) { out.push_back(what + ": " + why); };
  auto divides_gpus = [&](const char* name, int64_t v, const std::set<int64_t>& used) {
    if (used.count(v)) return;
    note(name + ("=" + str(v)), n % v ? "does not divide the " + str(n) + " GPUs" : others);
  };
  for (int64_t v : space.tp) divides_gpus("tp", v, tp);
  for (int64_t v : space.cp) divides_gpus("cp", v, cp);
  for (int64_t v : space.pp)
    if (!pp.count(v) && n % v == 0 && v > layers) note("pp=" + str(v), "more stages than the " + str(layers) + " layers");
    else divides_gpus("pp", v, pp);
  for (int64_t v : space.ep)
    if (!ep.count(v))
      note("ep=" + str(v), experts == 0       ? "the model has no experts"
                           : experts % v != 0 ? "does not divide the " + str(experts) + " experts"
                                              : "divides no dp*cp*tp of the strategies searched");
  for (int64_t v : space.vp)
    if (!vp.count(v))
      note("vp=" + str(v), "needs the interleaved schedule and a pp with pp*vp at most the " + str(layers) + " layers");
  for (int64_t v : space.micro_batch)
    if (!mb.count(v))
      note("micro-batch " + str(v), "divides no per-replica batch (global batch " + str(o.global_batch) + " / dp)");
  for (Schedule s : space.schedule)
    if (!schedules.count(s))
      note(std::string("schedule ") + schedule_name(s),
           pp.upper_bound(1) == pp.end() ? "a pipeline schedule needs pp > 1" : others);
  for (bool v : space.sp)
    if (!sp[v]) note(v ? "sp on" : "sp off", v ? "sequence parallelism needs tp > 1" : others);
  for (bool v : space.tp_comm_overlap)
    if (!tp_overlap[v]) note(v ? "tp-comm-overlap on" : "tp-comm-overlap off", v ? "needs sp with tp > 1" : others);
  for (bool v : space.ep_comm_overlap)
    if (!ep_overlap[v]) note(v ? "ep-comm-overlap on" : "ep-comm-overlap off", v ? "needs ep > 1" : others);
  return out;
}

}  // namespace shardplan
