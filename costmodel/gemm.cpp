// GEMM efficiency model. Wave quantization: a GEMM is cut into output tiles, the SMs run them in
// waves, and the last partial wave (and partial tiles at the edges) do useless work. cuBLAS picks
// among tile shapes; we take the better of the GPU's large tile and a half-width tile (which runs
// ~5% slower per FLOP: smaller tiles re-read operands more).
#include "costmodel/gemm.hpp"

#include <algorithm>
#include <cmath>

namespace shardplan {

namespace {
constexpr double kHalfTilePenalty = 0.95;  // half-width tiles: more operand traffic per FLOP

double tile_efficiency(double m, double n, double batch, double tm, double tn, double sms) {
  double tiles = std::ceil(m / tm) * std::ceil(n / tn) * batch;
  double waves = std::ceil(tiles / sms);
  return (m * n * batch) / (waves * sms * tm * tn);
}
}  // namespace

double gemm_shape_efficiency(const GpuSpec& gpu, double m, double n, double k, double batch) {
  if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return 1;
  const double sms = double(gpu.sms), tm = double(gpu.gemm_tile_m), tn = double(gpu.gemm_tile_n);
  // The GEMM may be laid out either way round; cuBLAS picks the better orientation.
  double big = std::max(tile_efficiency(m, n, batch, tm, tn, sms), tile_efficiency(n, m, batch, tm, tn, sms));
  double half = kHalfTilePenalty * std::max(tile_efficiency(m, n, batch, tm, tn / 2, sms),
                                            tile_efficiency(n, m, batch, tm, tn / 2, sms));
  double k_eff = k / (k + gpu.gemm_pipeline_k);  // mainloop prologue/epilogue (~2 k-tiles)
  return std::max(big, half) * k_eff;
}

double gemm_time_s(const GpuSpec& gpu, DType dtype, double m, double n, double k, double batch) {
  if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return 0;
  double peak = gpu.peak_flops(dtype);
  if (peak <= 0) peak = gpu.peak_flops(DType::fp32);  // no tensor cores for this dtype
  double flops = 2 * m * n * k * batch;
  // gemm_peak_fraction is measured on 8192^3 (docs/hardware.md): shapes are priced relative to it.
  double rel = gemm_shape_efficiency(gpu, m, n, k, batch) / gemm_shape_efficiency(gpu, 8192, 8192, 8192);
  double compute = flops / (peak * gpu.gemm_peak_fraction * gpu.sustained_compute_fraction * std::min(1.0, rel));
  double bytes = dtype_bytes(dtype) * (m * k + k * n + m * n) * batch;
  double memory = bytes / (gpu.memory_bandwidth_GBps * 1e9 * gpu.memory_bandwidth_fraction);
  return std::max(compute, memory) + gpu.kernel_overhead_us * 1e-6;
}

double memory_time_s(const GpuSpec& gpu, double bytes, int kernels) {
  return bytes / (gpu.memory_bandwidth_GBps * 1e9 * gpu.memory_bandwidth_fraction) +
         kernels * gpu.kernel_overhead_us * 1e-6;
}

}  // namespace shardplan
