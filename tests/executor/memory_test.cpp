// Memory accounting of whole runs, against hand counts of the tiny model's parameters
// (tiny_model.hpp). Variant A has 214,144 parameters: embedding 128·64 = 8,192; per layer
// 2·(64+64) norms + 4·64·64 attention + 2·64·256 MLP = 49,408 (×4); final norm 128; head 8,192.
#include <doctest/doctest.h>

#include "executor/run.hpp"
#include "tiny_model.hpp"

using namespace shardplan;
using namespace shardplan::executor;
using testing::options;
using testing::tiny;

namespace {
constexpr int64_t kParams = 214144, kBytes = 4 * kParams;  // float32
constexpr int64_t kBlockBytes = 4 * 49408;

int64_t peak(const RunReport& r, int rank, MemCategory c) {
  return r.peak_bytes_per_rank.at(rank).peak_bytes[static_cast<int>(c)];
}
RunReport run(const std::string& plan, bool gqa = false) {
  return run_training(options(tiny(gqa), plan, 2));
}
}  // namespace

TEST_CASE("MemoryTracker keeps current and peak per category and in total") {
  MemoryTracker t;
  {
    Buffer<float> a(t, MemCategory::weights, 10);
    Buffer<double> b(t, MemCategory::activations, 5);
    CHECK(t.current_bytes(MemCategory::weights) == 40);
    CHECK(t.current_total_bytes() == 80);
    Buffer<double> c = std::move(b);  // moving transfers, not double-counts
    c.recategorize(MemCategory::temporaries);
    CHECK(t.current_bytes(MemCategory::activations) == 0);
    CHECK(t.current_bytes(MemCategory::temporaries) == 40);
  }
  CHECK(t.current_total_bytes() == 0);
  CHECK(t.peak_total_bytes() == 80);
  CHECK(t.peak_bytes(MemCategory::activations) == 40);
  CHECK(t.peak_bytes(MemCategory::temporaries) == 40);
}

TEST_CASE("weights, gradients and AdamW states per rank under ZeRO 0-3") {
  const RunReport z0 = run("dp=1");
  CHECK(peak(z0, 0, MemCategory::weights) == kBytes);
  CHECK(peak(z0, 0, MemCategory::gradients) == kBytes);
  CHECK(peak(z0, 0, MemCategory::optimizer_states) == 2 * kBytes);  // m and v
  // ZeRO-1 (dp=2): states halved; full gradients, reduce-scattered in place into this rank's half.
  const RunReport z1 = run("dp=2,zero=1");
  for (int r = 0; r < 2; ++r) {
    CHECK(peak(z1, r, MemCategory::weights) == kBytes);
    CHECK(peak(z1, r, MemCategory::gradients) == kBytes);
    CHECK(peak(z1, r, MemCategory::optimizer_states) == kBytes);
  }
  // ZeRO-2: a half-size gradient shard, plus one unit's full gradient while it is reduced.
  const RunReport z2 = run("dp=2,zero=2");
  CHECK(peak(z2, 1, MemCategory::weights) == kBytes);
  CHECK(peak(z2, 1, MemCategory::gradients) == kBytes / 2 + kBlockBytes);
  CHECK(peak(z2, 1, MemCategory::optimizer_states) == kBytes);
  // ZeRO-3: parameters sharded too; a block and the prefetched next one gathered at a time.
  const RunReport z3 = run("dp=2,zero=3");
  CHECK(peak(z3, 0, MemCategory::weights) == kBytes / 2 + 2 * kBlockBytes);
  CHECK(peak(z3, 0, MemCategory::gradients) == kBytes / 2 + kBlockBytes);
  CHECK(peak(z3, 0, MemCategory::optimizer_states) == kBytes);
}

TEST_CASE("TP and PP divide the weights") {
  // tp=2: matrices and vocab tables halve, the 9 norms (128 each) stay: (214144 - 9·128)/2 + 9·128.
  const RunReport tp = run("tp=2");
  for (int r = 0; r < 2; ++r) CHECK(peak(tp, r, MemCategory::weights) == 4 * ((kParams - 1152) / 2 + 1152));
  // pp=2: stage 0 has the embedding and layers 0-1, stage 1 layers 2-3, final norm and head.
  const RunReport pp = run("pp=2");
  CHECK(peak(pp, 0, MemCategory::weights) == 4 * (8192 + 2 * 49408));
  CHECK(peak(pp, 1, MemCategory::weights) == 4 * (2 * 49408 + 128 + 8192));
}

TEST_CASE("activation memory follows recompute, SP and the schedule") {
  const int64_t none = peak(run("dp=1,mbs=8"), 0, MemCategory::activations);
  const int64_t selective = peak(run("dp=1,mbs=8,recompute=selective"), 0, MemCategory::activations);
  const int64_t full = peak(run("dp=1,mbs=8,recompute=full"), 0, MemCategory::activations);
  CHECK(selective < none);
  CHECK(full < selective);
  // Selective drops exactly the attention probabilities: 4 layers · 8 seqs · 4 heads · 16² floats.
  CHECK(none - selective == 4 * 4 * 8 * 4 * 16 * 16);
  // SP shards the residual stream (norm inputs/outputs) over TP.
  CHECK(peak(run("tp=2,sp"), 0, MemCategory::activations) <
        peak(run("tp=2"), 0, MemCategory::activations));
  // 1F1B keeps pp - rank micro-batches on a stage; GPipe all 8.
  const RunReport ofob = run("pp=4"), gpipe = run("pp=4,schedule=gpipe");
  CHECK(peak(gpipe, 0, MemCategory::activations) > peak(ofob, 0, MemCategory::activations));
  CHECK(peak(ofob, 1, MemCategory::activations) > peak(ofob, 2, MemCategory::activations));
}

TEST_CASE("nothing but weights, gradients and optimizer states outlives a step") {
  for (const char* plan : {"dp=1", "tp=2,pp=2,dp=2,sp,zero=3,schedule=zb,recompute=full",
                           "pp=2,vp=2,schedule=interleaved,zero=2,dp=2"}) {
    const RunReport r = run(plan, true);
    for (const RankMemory& m : r.peak_bytes_per_rank) {
      INFO(plan << " rank " << m.rank);
      CHECK(m.current_bytes[static_cast<int>(MemCategory::activations)] == 0);
      CHECK(m.current_bytes[static_cast<int>(MemCategory::temporaries)] == 0);
      CHECK(m.peak_total_bytes >= m.peak_bytes[static_cast<int>(MemCategory::weights)]);
    }
  }
}
