// Internal to simulator/: the task graph simulate() builds (engine + what each task stands for),
// shared by the builder (simulate.cpp) and the result collection (sim_results.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "simulator/engine.hpp"
#include "simulator/schedule.hpp"
#include "simulator/simulate.hpp"

namespace shardplan::detail {

struct TaskMeta {
  enum What : uint8_t { pass, recompute, optimizer, gather, grad_reduce, p2p_fwd, p2p_bwd };
  What what = pass;
  Pass::Kind kind = Pass::F;    // pass: which one; gather: the pass it feeds
  bool frees = false;           // this task's end releases the micro-batch's activations
  bool barrier = false;         // a zero-time sync around a collective's flows (not traced)
  int16_t part = 0, parts = 1;  // a pass split at gradient-bucket boundaries; bucket k of n
  int32_t stage = 0;            // the stage it runs on (a transfer: the sender)
  int32_t micro_batch = -1, chunk = -1;
  int32_t peer_stage = -1;  // transfers: the receiver
};

inline TaskMeta make_meta(TaskMeta::What what, Pass::Kind kind, int64_t stage, int64_t micro_batch,
                          int64_t chunk) {
  TaskMeta m;
  m.what = what;
  m.kind = kind;
  m.stage = static_cast<int32_t>(stage);
  m.micro_batch = static_cast<int32_t>(micro_batch);
  m.chunk = static_cast<int32_t>(chunk);
  return m;
}

struct SimGraph {
  SimEngine engine;
  std::vector<TaskMeta> meta;  // indexed by TaskId
  std::vector<std::vector<Pass>> schedule;
  int64_t pp = 1, vp = 1, micro_batches = 1, replicas = 1;
  StreamId stream(int64_t gpu, SimStream k) const {
    return static_cast<StreamId>(gpu * kSimStreams + static_cast<int>(k));
  }
};

inline double at_or_zero(const std::vector<double>& v, int64_t i) {
  return v.empty() ? 0.0 : v[i];
}

// "" when `costs` has the shape and values simulate() needs, else what is wrong.
std::string check_costs(const StageCosts& costs, const SimOptions& options);
// Checks `costs` and builds the graph; returns "" or why it cannot be simulated.
std::string build_graph(const StageCosts& costs, const SimOptions& options, SimGraph& g);
// Fills the statistics, memory peaks and (if asked) the trace after g.engine.run().
void collect_results(const StageCosts& costs, const SimOptions& options, const SimGraph& g,
                     SimResult& out);

}  // namespace shardplan::detail
