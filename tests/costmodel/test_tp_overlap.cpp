// TP collectives beside GEMMs (costmodel/tp_overlap.hpp), by hand.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "core/hardware.hpp"
#include "costmodel/gemm.hpp"
#include "costmodel/tp_overlap.hpp"

using namespace shardplan;

namespace {
GpuSpec gpu100() {
  GpuSpec g = load_cluster("dgx-h100").gpu;
  g.sms = 100;
  g.comm_sms = 20;  // a GEMM beside a collective keeps f = 0.8 of the SMs
  return g;
}
}  // namespace

TEST_CASE("tp overlap: a GEMM beside a collective that holds a fifth of the SMs") {
  const GpuSpec g = gpu100();
  // g = 1 s of GEMM, c = 0.5 s of collective: during 0.5 s the GEMM does 0.4 s of its work, the
  // remaining 0.6 s at full rate: 1.1 s in all.
  CHECK(beside_collective(g, 1.0, 0.5) == testing::rel(1.1));
  // g = 0.3 s finishes inside the collective (0.3 / 0.8 = 0.375 s < 0.5 s): the pair takes 0.5 s.
  CHECK(beside_collective(g, 0.3, 0.5) == testing::rel(0.5));
  // Without contention it is max(g, c).
  GpuSpec free = g;
  free.comm_sms = 0;
  CHECK(beside_collective(free, 1.0, 0.5) == testing::rel(1.0));
  // Bulk (set_sm_margin): the GEMM keeps 80 SMs for its whole length: max(1 / 0.8, 0.5) = 1.25 s.
  CHECK(te_bulk_s(g, 1.0, 0.5) == testing::rel(1.25));
  CHECK(te_bulk_s(g, 1.0, 2.0) == testing::rel(2.0));
}

TEST_CASE("tp overlap: a DP collective beside compute costs its tail or its SM share") {
  const GpuSpec g = gpu100();  // the collective holds 20 of 100 SMs: k = 0.2
  CHECK(comm_sm_fraction(g) == testing::rel(0.2));
  // 1 s of reduction hidden entirely behind the backward: the backward loses 0.2 of its SMs for
  // 1 s, i.e. is 0.2 s longer (beside_collective(g, 2, 1) - 2 = 0.2).
  CHECK(beside_compute_s(g, 1.0, 0.0) == testing::rel(0.2));
  CHECK(beside_compute_s(g, 1.0, 0.0) == testing::rel(beside_collective(g, 2.0, 1.0) - 2.0));
  // 3 s of reduction beside 2 s of backward, 1 s exposed: the compute (2 / 0.8 = 2.5 s) ends
  // inside the collective, so only the tail shows: max(1, 0.6) = 1 = beside_collective(g, 2, 3) - 2.
  CHECK(beside_compute_s(g, 3.0, 1.0) == testing::rel(1.0));
  CHECK(beside_compute_s(g, 3.0, 1.0) == testing::rel(beside_collective(g, 2.0, 3.0) - 2.0));
  // No SMs held (a profile without comm_sms): the exposed tail alone.
  GpuSpec free = g;
  free.comm_sms = 0;
  CHECK(beside_compute_s(free, 1.0, 0.0) == 0.0);
}

TEST_CASE("tp overlap: ring exchange and pipelined reduce-scatter compose their chunks") {
  const GpuSpec g = gpu100();
  const double m = 4096, n = 3072, k = 8192;
  // Ring exchange over tp = 8: one chunk of 512 rows, then 7 steps of max(chunk, shard transfer).
  // The chunks share TE's rotating streams and fill each other's waves: each is 1/8 of the GEMM.
  const double chunk = gemm_time_s(g, DType::bf16, m, n, k) / 8;
  CHECK(te_ring_exchange_s(g, DType::bf16, m, n, k, 8, 0.0) == testing::rel(8 * chunk));
  const double slow_ag = 7 * 3 * chunk;  // each shard takes 3 chunks' time to arrive
  CHECK(te_ring_exchange_s(g, DType::bf16, m, n, k, 8, slow_ag) == testing::rel(chunk + 7 * 3 * chunk));
  // Alone, without a collective, the ring exchange costs exactly the whole GEMM.
  CHECK(8 * chunk == testing::rel(gemm_time_s(g, DType::bf16, m, n, k)));
  // Pipelined reduce-scatter: 4 chunks of 1024 rows on 80 of 100 SMs (c4 = chunk / 0.8), with
  // reduce-scatter r per chunk: c4 + 3 max(c4, r) + r.
  const double c4 = gemm_time_s(g, DType::bf16, m, n, k) / 4 / 0.8;
  CHECK(te_pipeline_rs_s(g, DType::bf16, m, n, k, 0.0) == testing::rel(4 * c4));
  CHECK(te_pipeline_rs_s(g, DType::bf16, m, n, k, 4 * 2 * c4) == testing::rel(c4 + 3 * 2 * c4 + 2 * c4));
}
