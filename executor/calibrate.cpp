// The CPU measurements behind `shardplan calibrate`: every one runs on `threads` threads at once
// (the way ranks share the machine in a run) and reports the per-thread figure.
#include "executor/calibrate.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <cctype>
#include <chrono>
#include <cmath>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "executor/comm_inprocess.hpp"
#include "executor/gemm.hpp"
#include "executor/kernels.hpp"

namespace shardplan::executor {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of the calling thread: compute kernels are timed by it, so time that other processes
// take from this core does not count (a shared machine measures like a quiet one).
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Runs body(thread) on n threads started together; returns each thread's result.
std::vector<double> on_threads(int n, const std::function<double(int)>& body) {
  std::vector<double> out(n);
  std::barrier sync(n);
  std::vector<std::thread> ts;
  for (int t = 0; t < n; ++t)
    ts.emplace_back([&, t] {
      sync.arrive_and_wait();
      out[t] = body(t);
    });
  for (auto& t : ts) t.join();
  return out;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / double(v.size());
}

// Thread CPU seconds per call of f: the best of 5 rounds of at least min_s / 5 each (after one
// untimed call).
double time_per_call(const std::function<void()>& f, double min_s) {
  f();
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    int64_t calls = 0;
    const double t0 = thread_cpu_s();
    double el = 0;
    do {
      f();
      ++calls;
      el = thread_cpu_s() - t0;
    } while (el < min_s / 5);
    best = std::min(best, el / double(calls));
  }
  return best;
}

double gemm_gflops(int64_t m, int64_t n, int64_t k, double min_s) {
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n);
  const double t = time_per_call([&] { linear_forward(a.data(), b.data(), c.data(), m, k, n); }, min_s);
  return 2.0 * double(m) * double(n) * double(k) / t / 1e9;
}

// Best of 5 passes over arrays of `elems` floats, STREAM-style; GB/s of bytes read + written.
double stream_GBps(int64_t elems, bool add) {
  std::vector<float> a(elems, 0.f), b(elems, 1.f), c(elems, 2.f);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = thread_cpu_s();
    if (add)
      for (int64_t i = 0; i < elems; ++i) a[i] = b[i] + c[i];
    else
      std::copy(b.begin(), b.end(), a.begin());
    const double t = thread_cpu_s() - t0;
    best = std::max(best, double(elems) * 4.0 * (add ? 3 : 2) / t / 1e9);
  }
  volatile float sink = a[elems / 2];  // keep the loops
  (void)sink;
  return best;
}

// The executor's own elementwise kernels (SwiGLU and RMSNorm, forward and backward) on arrays of
// 2^18 floats (1 MiB, the size of a CPU-sized model's activations): GB/s of the bytes they read
// and write. Their transcendentals and reductions make them slower than a plain stream.
double pointwise_GBps(double min_s) {
  const int64_t n = int64_t{1} << 18, h = 256, rows = n / h;
  std::vector<float> a(n, 0.3f), b(n, 0.7f), c(n), d(n), e(n), gamma(h, 1.f), dgamma(h), rstd(rows, 1.f);
  double bytes = 0;
  const double t = time_per_call([&] {
    swiglu_forward(a.data(), b.data(), c.data(), n);                                // 3 arrays
    swiglu_backward(c.data(), a.data(), b.data(), d.data(), e.data(), n);           // 5
    rmsnorm_forward(a.data(), gamma.data(), c.data(), rstd.data(), rows, h);        // 2
    rmsnorm_backward(c.data(), a.data(), gamma.data(), rstd.data(), d.data(), dgamma.data(), rows, h);  // 3
  }, min_s);
  bytes = double(n) * 4 * (3 + 5 + 2 + 3);
  return bytes / t / 1e9;
}

std::string host_name() {
  char buf[256] = {};
  std::string h = gethostname(buf, sizeof buf - 1) == 0 ? std::string(buf) : std::string();
  std::string out;
  for (char ch : h) {
    if (ch == '.') break;  // short name
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out.empty() ? "local" : out;
}

// Collectives measured the way the trainer calls them: each rank computes (a GEMM of a layer's
// size, ~0.1-1 ms) and then joins the all-reduce, so a rank that arrives first has been waiting
// the way it waits in a run, not spinning in a tight loop of collectives. The cost of one call is
// from the last rank's arrival to the last rank's return: what the alpha-beta model prices (the
// wait for a late rank is that rank's compute, which the cost model already counts).
void measure_collectives(Calibration& c, double min_s) {
  const int ranks = std::max(2, c.threads);  // one rank cannot all-reduce
  InProcessWorld world(ranks);
  std::vector<int> members(ranks);
  for (int r = 0; r < ranks; ++r) members[r] = r;
  const int64_t gm = 128, gk = 256, gn = 256;  // the work between calls: 8.4 MFLOP
  for (int64_t bytes : {int64_t{4}, int64_t{1} << 10, int64_t{1} << 16, int64_t{1} << 20,
                        int64_t{1} << 24, int64_t{1} << 26}) {
    const int64_t n = bytes / 4;
    std::vector<std::vector<std::pair<double, double>>> calls(ranks);  // (arrived, returned) s
    const auto epoch = Clock::now();
    on_threads(ranks, [&](int r) {
      auto comm = world.communicator(members, r);
      std::vector<float> buf(n, 1.f), a(gm * gk, 0.5f), w(gk * gn, 0.25f), y(gm * gn);
      auto& mine = calls[r];
      // Every rank must run the same number of collectives: stop on rank 0's clock, agreed by
      // a one-element all-reduce of the decision.
      for (float go = 1; go > 0;) {
        linear_forward(a.data(), w.data(), y.data(), gm, gk, gn);
        const double arrived = seconds_since(epoch);
        comm->all_reduce(buf.data(), n);
        mine.emplace_back(arrived, seconds_since(epoch));
        go = (r == 0 && (mine.back().second >= min_s && mine.size() >= 5)) ? 0.f : 1.f;
        if (r != 0) go = 0;
        comm->all_reduce(&go, 1, ReduceOp::max);
      }
      return 0.0;
    });
    std::vector<double> samples;
    for (size_t i = 0; i < calls[0].size(); ++i) {
      double last_in = 0, last_out = 0;
      for (int r = 0; r < ranks; ++r)
        last_in = std::max(last_in, calls[r][i].first), last_out = std::max(last_out, calls[r][i].second);
      samples.push_back(std::max(0.0, last_out - last_in));
    }
    // The median: on a shared machine a call now and then loses its core; a run pays those too,
    // but they are noise, not the communicator.
    std::sort(samples.begin(), samples.end());
    c.all_reduce.push_back({bytes, samples[samples.size() / 2]});
  }
  // Ring all-reduce (costmodel/collectives.cpp): t = 2(n-1)·α + 2(n-1)/n · S / B, i.e. t = a + b·S,
  // fitted by least squares on the relative error over every size (cache-resident messages are
  // much faster than DRAM-sized ones; this weighs them all alike).
  double s11 = 0, s12 = 0, s22 = 0, r1 = 0, r2 = 0;
  for (const CollectivePoint& p : c.all_reduce) {
    const double x1 = 1 / p.time_s, x2 = double(p.bytes) / p.time_s;  // (a·x1 + b·x2) ≈ 1
    s11 += x1 * x1, s12 += x1 * x2, s22 += x2 * x2, r1 += x1, r2 += x2;
  }
  const double det = s11 * s22 - s12 * s12;
  double a = (r1 * s22 - r2 * s12) / det, b = (s11 * r2 - s12 * r1) / det;
  if (!(a > 0) || !(b > 0)) {  // degenerate fit: smallest size for a, largest for b
    a = c.all_reduce.front().time_s;
    b = std::max(1e-18, (c.all_reduce.back().time_s - a) / double(c.all_reduce.back().bytes));
  }
  const double n = double(ranks);
  c.latency_us = a / (2 * (n - 1)) * 1e6;
  c.bus_GBps = 2 * (n - 1) / n / b / 1e9;
}
}  // namespace

Calibration calibrate_cpu(const CalibrationOptions& o) {
  Calibration c;
  c.host = host_name();
  c.cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  c.threads = o.threads > 0 ? o.threads : c.cores;
  c.memory_bytes = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  const double min_s = o.seconds_per_point;
  // Shapes of a CPU-sized decoder's linear layers: tokens x (out, in).
  for (int64_t m : {128, 512, 2048})
    for (int64_t nk : {64, 256, 1024}) {
      std::vector<double> r = on_threads(c.threads, [&](int) { return gemm_gflops(m, nk, nk, min_s); });
      c.gemm.push_back({m, nk, nk, mean(r)});
    }
  for (auto [m, n, k] : {std::array<int64_t, 3>{512, 1024, 256}, {512, 256, 1024}, {2048, 128, 2048}}) {
    std::vector<double> r = on_threads(c.threads, [&](int) { return gemm_gflops(m, n, k, min_s); });
    c.gemm.push_back({m, n, k, mean(r)});
  }
  std::vector<double> call = on_threads(c.threads, [&](int) {
    float a = 1, b = 1, y = 0;
    return time_per_call([&] { linear_forward(&a, &b, &y, 1, 1, 1); }, min_s / 10);
  });
  c.call_overhead_us = mean(call) * 1e6;
  const int64_t elems = int64_t{1} << 24;  // 64 MiB per array: far beyond the caches
  c.copy_GBps = mean(on_threads(c.threads, [&](int) { return stream_GBps(elems, false); }));
  c.add_GBps = mean(on_threads(c.threads, [&](int) { return stream_GBps(elems, true); }));
  c.pointwise_GBps = mean(on_threads(c.threads, [&](int) { return pointwise_GBps(min_s); }));
  measure_collectives(c, min_s);
  return c;
}

}  // namespace shardplan::executor
