// GEMM pricing on a hand-made GPU: wave quantization over the SMs, the k pipeline fill k/(k+64),
// the compute time relative to 8192^3, the memory-bound floor and memory_time_s.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "costmodel/gemm.hpp"

using namespace shardplan;

namespace {
// 4 SMs, 128 x 256 output tiles, 100 TFLOP/s bf16 (10 fp32, no fp8), achievable GEMM fraction 0.5,
// 1000 GB/s DRAM at fraction 0.5 (5e11 B/s achievable), 5 us per kernel.
GpuSpec hand_gpu() {
  GpuSpec g;
  g.name = "hand";
  g.sms = 4;
  g.gemm_tile_m = 128;
  g.gemm_tile_n = 256;
  g.peak_tflops[static_cast<int>(DType::fp32)] = 10;
  g.peak_tflops[static_cast<int>(DType::bf16)] = 100;
  g.gemm_peak_fraction = 0.5;
  g.memory_bandwidth_GBps = 1000;
  g.memory_bandwidth_fraction = 0.5;
  g.kernel_overhead_us = 5;
  return g;
}
}  // namespace

TEST_CASE("gemm: shape efficiency of whole waves of whole tiles is the k efficiency k/(k+64)") {
  // m = n = 512 with 128 x 256 tiles: 4 * 2 = 8 tiles = 2 full waves of 4 SMs, no partial tile:
  // tile efficiency 512*512 / (2 * 4 * 128*256) = 262144 / 262144 = 1. k = 64: 64/(64+64) = 0.5.
  GpuSpec g = hand_gpu();
  CHECK(gemm_shape_efficiency(g, 512, 512, 64) == testing::rel(0.5).epsilon(1e-12));
  // k efficiency alone: k = 192 -> 192/256 = 0.75; k = 8192 -> 8192/8256.
  CHECK(gemm_shape_efficiency(g, 512, 512, 192) == testing::rel(0.75).epsilon(1e-12));
  CHECK(gemm_shape_efficiency(g, 512, 512, 8192) == testing::rel(8192.0 / 8256).epsilon(1e-12));
}

TEST_CASE("gemm: wave quantization picks the half-width tile when it wastes less") {
  GpuSpec g = hand_gpu();
  // m = 384, n = 512, k = 192.
  //   128x256 tiles: ceil(384/128)*ceil(512/256) = 3*2 = 6 tiles -> ceil(6/4) = 2 waves;
  //     efficiency 384*512 / (2*4*128*256) = 196608/262144 = 0.75 (transposed: 4*2 = 8 tiles,
  //     2 waves, also 0.75).
  //   128x128 tiles: 3*4 = 12 tiles -> 3 waves; 196608 / (3*4*128*128) = 1, times the 0.95
  //     half-tile penalty = 0.95.
  //   best 0.95, times k/(k+64) = 192/256 = 0.75 -> 0.7125.
  CHECK(gemm_shape_efficiency(g, 384, 512, 192) == testing::rel(0.7125).epsilon(1e-12));
  // m = 130, n = 256, k = 64: a partial second row of tiles.
  //   128x256: 2*1 = 2 tiles, 1 wave: 130*256 / (4*128*256) = 33280/131072 = 0.25390625.
  //   128x128: 2*2 = 4 tiles, 1 wave: 33280 / (4*128*128) = 0.5078125 * 0.95 = 0.482421875.
  //   times 64/128 = 0.5 -> 0.2412109375.
  CHECK(gemm_shape_efficiency(g, 130, 256, 64) == testing::rel(0.2412109375).epsilon(1e-12));
  // Batched: 4 GEMMs of 128 x 128, k = 64.
  //   128x256: 1*1*4 = 4 tiles, 1 wave: 128*128*4 / (4*128*256) = 0.5.
  //   128x128: 4 tiles, 1 wave: 65536/65536 = 1 * 0.95 = 0.95.  times 0.5 -> 0.475.
  CHECK(gemm_shape_efficiency(g, 128, 128, 64, 4) == testing::rel(0.475).epsilon(1e-12));
}

TEST_CASE("gemm: an 8192^3 GEMM runs at exactly the measured GEMM fraction of peak") {
  // gemm_peak_fraction is measured on 8192^3 (docs/hardware.md), so the relative shape factor is 1:
  //   FLOPs 2*8192^3 = 1,099,511,627,776; rate 100e12 * 0.5 = 5e13 -> 0.02199023255552 s.
  //   Memory 2 B * 3 * 8192^2 = 402,653,184 B / 5e11 = 8.05e-4 s < compute.
  //   Plus the 5 us kernel overhead: 0.02199523255552 s.
  GpuSpec g = hand_gpu();
  CHECK(gemm_time_s(g, DType::bf16, 8192, 8192, 8192) ==
        testing::rel(0.02199523255552).epsilon(1e-12));
}

TEST_CASE("gemm: a shape better than the 8192^3 reference is capped at the measured fraction") {
  // k = 65536 has k/(k+64) = 0.99902 > 8192/8256 = 0.99225: min(1, rel) keeps the rate at
  // 5e13 FLOP/s. FLOPs 2*8192^2*65536 = 8,796,093,022,208 -> 0.17592186044416 s + 5e-6 s.
  GpuSpec g = hand_gpu();
  CHECK(gemm_time_s(g, DType::bf16, 8192, 8192, 65536) ==
        testing::rel(0.17592186044416 + 5e-6).epsilon(1e-12));
}

TEST_CASE("gemm: a skinny GEMM is floored by its memory traffic") {
  // m = 1 (a GEMV), n = k = 8192, bf16, on a GPU with 100 GB/s DRAM at fraction 0.5 (5e10 B/s).
  //   Bytes 2 * (m*k + k*n + m*n) = 2 * (8192 + 67108864 + 8192) = 134,250,496 -> 2.68500992e-3 s.
  //   Compute: tiles 1 x 32 = 32, 8 waves: efficiency 8192 / (8*4*128*256) = 1/128 (the other
  //   layouts are 1/256 and 0.95/128); same k as the reference, so rel = 1/128:
  //   2*8192^2 / (5e13 / 128) = 3.4359738368e-4 s < memory.
  //   Time = 2.68500992e-3 + 5e-6 s.
  GpuSpec g = hand_gpu();
  g.memory_bandwidth_GBps = 100;
  CHECK(gemm_time_s(g, DType::bf16, 1, 8192, 8192) ==
        testing::rel(2.68500992e-3 + 5e-6).epsilon(1e-12));
  // The same GEMV with 1000 GB/s is compute(quantization)-bound: 3.4359738368e-4 + 5e-6 s.
  GpuSpec fast = hand_gpu();
  CHECK(gemm_time_s(fast, DType::bf16, 1, 8192, 8192) ==
        testing::rel(3.4359738368e-4 + 5e-6).epsilon(1e-12));
}

TEST_CASE("gemm: a dtype without tensor-core support falls back to the fp32 rate") {
  // fp8 peak is 0 on this GPU: 8192^3 at 10e12 * 0.5 = 5e12 FLOP/s -> 0.2199023255552 s + 5 us.
  GpuSpec g = hand_gpu();
  CHECK(gemm_time_s(g, DType::fp8, 8192, 8192, 8192) ==
        testing::rel(0.2199023255552 + 5e-6).epsilon(1e-12));
}

TEST_CASE("gemm: empty GEMMs cost nothing; memory_time_s is bytes/(bw*frac) + kernels*overhead") {
  GpuSpec g = hand_gpu();
  CHECK(gemm_time_s(g, DType::bf16, 0, 8192, 8192) == 0);
  CHECK(gemm_time_s(g, DType::bf16, 8192, 8192, 0) == 0);
  // 1e9 bytes / (1000e9 * 0.5) = 2e-3 s, + 3 kernels * 5 us = 1.5e-5 s -> 2.015e-3 s.
  CHECK(memory_time_s(g, 1e9, 3) == testing::rel(2.015e-3).epsilon(1e-12));
  // One kernel by default: 2e-3 + 5e-6.
  CHECK(memory_time_s(g, 1e9) == testing::rel(2.005e-3).epsilon(1e-12));
  CHECK(memory_time_s(g, 0, 0) == 0);
}
