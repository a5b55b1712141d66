// bench_comm: what one small in-process all-reduce costs, by how the ranks wait (block at once on
// a condition variable, or spin first) and by how they arrive (back to back, as the old
// calibration called it, or after computing, as the trainer calls it). The cost of a call is from
// the last rank's arrival to the last rank's return; the median over calls is printed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "executor/comm_inprocess.hpp"
#include "executor/gemm.hpp"

using namespace shardplan::executor;
using Clock = std::chrono::steady_clock;

namespace {

// Median microseconds per all-reduce of `bytes` over `ranks` threads, each computing a
// work_m x 256 x 256 GEMM before every call (work_m = 0: back to back).
double median_us(int ranks, std::chrono::microseconds spin, int64_t bytes, int64_t work_m, int calls) {
  InProcessWorld world(ranks, std::chrono::seconds(60), spin);
  std::vector<int> members(ranks);
  for (int r = 0; r < ranks; ++r) members[r] = r;
  std::vector<std::vector<std::pair<double, double>>> t(ranks, std::vector<std::pair<double, double>>(calls));
  const auto epoch = Clock::now();
  auto since = [&] { return std::chrono::duration<double>(Clock::now() - epoch).count(); };
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      auto comm = world.communicator(members, r);
      std::vector<float> buf(std::max<int64_t>(1, bytes / 4), 1.f);
      const int64_t m = std::max<int64_t>(1, work_m), k = 256, n = 256;
      std::vector<float> a(m * k, 0.5f), w(k * n, 0.25f), y(m * n);
      for (int i = 0; i < calls; ++i) {
        if (work_m > 0) linear_forward(a.data(), w.data(), y.data(), m, k, n);
        t[r][i].first = since();
        comm->all_reduce(buf.data(), static_cast<int64_t>(buf.size()));
        t[r][i].second = since();
      }
    });
  for (auto& th : threads) th.join();
  std::vector<double> us;
  for (int i = 1; i < calls; ++i) {  // the first call includes thread start-up
    double in = 0, out = 0;
    for (int r = 0; r < ranks; ++r) in = std::max(in, t[r][i].first), out = std::max(out, t[r][i].second);
    us.push_back(std::max(0.0, out - in) * 1e6);
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int ranks = argc > 1 ? std::atoi(argv[1]) : std::min(cores, 2);
  const int calls = argc > 2 ? std::atoi(argv[2]) : 2000;
  const auto spin = InProcessWorld::default_spin(ranks);
  std::printf("all-reduce over %d rank(s) on %d core(s); median us from the last arrival to the last return\n",
              ranks, cores);
  std::printf("%-10s %-28s %14s %14s\n", "bytes", "arrival", "block at once", "spin first");
  for (int64_t bytes : {int64_t{4}, int64_t{1} << 16})
    for (int64_t work_m : {int64_t{0}, int64_t{32}, int64_t{128}, int64_t{512}}) {
      const std::string how = work_m == 0 ? "back to back" : "after a " + std::to_string(work_m) + "x256x256 GEMM";
      std::printf("%-10lld %-28s %11.1f us %11.1f us\n", static_cast<long long>(bytes), how.c_str(),
                  median_us(ranks, std::chrono::microseconds{0}, bytes, work_m, calls),
                  median_us(ranks, spin, bytes, work_m, calls));
    }
  std::printf("(spin first: %lld us of polling before blocking, InProcessWorld::default_spin)\n",
              static_cast<long long>(spin.count()));
  return 0;
}
