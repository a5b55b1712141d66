#include "costmodel/gpu_variation.hpp"

#include <cmath>

namespace shardplan {

namespace {
// Phi^-1(p) for p in (0, 1) by Newton's method on the normal CDF (erfc keeps the tail accurate).
double inverse_normal_cdf(double p) {
  double x = 0;
  for (int i = 0; i < 60; ++i) {
    const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
    const double step = (cdf - p) / pdf;
    x -= step;
    if (std::fabs(step) < 1e-12) break;
  }
  return x;
}
}  // namespace

double expected_max_standard_normal(int64_t n) {
  if (n <= 1) return 0;
  const double nn = double(n);
  return inverse_normal_cdf((nn - 0.375) / (nn + 0.25));
}

double slowest_gpu_factor(const GpuSpec& gpu, int64_t gpus) {
  if (gpu.clock_variation <= 0) return 1;
  // Every strategy's context asks, and a search asks for one GPU count millions of times: keep the
  // last answer per thread (the Newton solve costs about a microsecond).
  thread_local int64_t last_gpus = -1;
  thread_local double last_expected_max = 0;
  if (gpus != last_gpus) {
    last_expected_max = expected_max_standard_normal(gpus);
    last_gpus = gpus;
  }
  return 1 + gpu.clock_variation * last_expected_max;
}

}  // namespace shardplan
