// Shared by the CUDA backend's tests: the skip for machines without a GPU, random inputs rounded
// to bf16 (so the CPU reference sees exactly what the GPU sees), device buffers from host vectors,
// and the error measure the tolerances are written in.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "executor/cuda/device.hpp"

namespace gpu_test {

using namespace shardplan::executor;
using namespace shardplan::executor::cuda;

inline const std::string& gpu_problem() {
  static const std::string why = no_gpu_reason();
  return why;
}

// Random N(mean, scale²) values, already representable in bf16.
inline std::vector<float> randn_bf16(size_t n, uint64_t seed, float scale = 1.f, float mean = 0.f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(mean, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = to_float(to_bf16(dist(rng)));
  return v;
}

// max|a - b| / max|b|: the error relative to the reference's scale.
inline double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double scale = 1e-30, diff = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    scale = std::max(scale, double(std::abs(b[i])));
    diff = std::max(diff, double(std::abs(a[i] - b[i])));
  }
  return diff / scale;
}

// A device-side workspace for one test: buffers from host data and back.
struct Dev {
  Stream s = nullptr;
  MemoryTracker mem;
  Dev() {
    use_device(0);
    s = create_stream();
  }
  ~Dev() {
    synchronize(s);
    destroy_stream(s);
  }
  template <class T>
  DevBuf<T> up(const std::vector<T>& h) {
    DevBuf<T> b(mem, MemCategory::temporaries, static_cast<int64_t>(h.size()), s, false);
    b.upload(h);
    return b;
  }
  DevBuf<bf16> up_bf16(const std::vector<float>& h) { return up(to_bf16(h)); }
  template <class T>
  DevBuf<T> zeros(int64_t n) {
    return DevBuf<T>(mem, MemCategory::temporaries, n, s, true);
  }
  std::vector<float> down(const DevBuf<bf16>& b) { return to_float(b.download()); }
  template <class T>
  std::vector<T> down(const DevBuf<T>& b) {
    return b.download();
  }
};

}  // namespace gpu_test

// Ends the test case (passing) with a note where this machine has no GPU.
#define SKIP_WITHOUT_GPU()                                            \
  do {                                                                \
    if (!gpu_test::gpu_problem().empty()) {                           \
      MESSAGE("skipped: no GPU (" << gpu_test::gpu_problem() << ")"); \
      return;                                                         \
    }                                                                 \
  } while (0)
