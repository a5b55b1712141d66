// The GPU communicators: the local one (every rank a thread on one GPU) against hand
// computations, bit-reproducibility, point-to-point ordering and failure behaviour; NCCL with
// one rank where there is one GPU; and with two or more GPUs, NCCL's watchdog ending a rank
// whose peer never joins a collective.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "executor/cuda/comm_local.hpp"
#include "executor/cuda/comm_nccl.hpp"
#include "gpu_test.hpp"

using namespace shardplan::executor;
using namespace shardplan::executor::cuda;
using namespace gpu_test;

namespace {
// Runs fn(rank, comm, stream) on n threads sharing one local world group on GPU 0.
void on_ranks(int n, const std::function<void(int, DeviceComm&, Stream)>& fn,
              std::chrono::seconds timeout = std::chrono::seconds(60)) {
  LocalCudaWorld world(n, timeout);
  std::vector<int> members;
  for (int r = 0; r < n; ++r) members.push_back(r);
  std::vector<std::thread> threads;
  std::vector<std::string> errors(n);
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        use_device(0);
        const Stream s = create_stream();
        {
          auto c = world.communicator(members, r, s);
          fn(r, *c, s);
        }
        synchronize(s);
        destroy_stream(s);
      } catch (const std::exception& e) {
        errors[r] = e.what();
        world.abort(e.what());
      }
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < n; ++r) CHECK_MESSAGE(errors[r].empty(), "rank " << r << ": " << errors[r]);
}

template <class T>
DevBuf<T> dev_of(MemoryTracker& mem, Stream s, const std::vector<T>& h) {
  DevBuf<T> b(mem, MemCategory::temporaries, int64_t(h.size()), s);
  b.upload(h);
  return b;
}
}  // namespace

TEST_CASE("local CUDA collectives compute what NCCL's would") {
  SKIP_WITHOUT_GPU();
  const int n = 4;
  on_ranks(n, [&](int r, DeviceComm& c, Stream s) {
    MemoryTracker mem;
    CHECK(c.rank() == r);
    CHECK(c.size() == n);
    // all_reduce sum: Σ (rank+1)(i+1) = 10(i+1); max: 4(i+1). Odd length: uneven chunks.
    std::vector<float> x(7);
    for (int i = 0; i < 7; ++i) x[i] = float((r + 1) * (i + 1));
    auto a = dev_of(mem, s, x), b = dev_of(mem, s, x);
    c.all_reduce(a.data(), 7);
    c.all_reduce(b.data(), 7, ReduceOp::max);
    const auto sa = a.download(), sb = b.download();
    for (int i = 0; i < 7; ++i) {
      CHECK(sa[i] == float(10 * (i + 1)));
      CHECK(sb[i] == float(4 * (i + 1)));
    }
    // bf16 all_reduce (float accumulation, one rounding): small integers are exact.
    auto h = dev_of(mem, s, to_bf16(x));
    c.all_reduce(h.data(), 7);
    CHECK(to_float(h.download())[6] == 70.f);
    // reduce_scatter into the own chunk of the input: out[i] = Σ_r in_r[rank·3 + i].
    std::vector<double> in(3 * n);
    for (int i = 0; i < 3 * n; ++i) in[i] = double(r * 100 + i);
    auto rs = dev_of(mem, s, in);
    c.reduce_scatter(rs.data(), rs.data() + r * 3, 3);
    const auto got = rs.download();
    for (int i = 0; i < 3; ++i) CHECK(got[r * 3 + i] == double(600 + 4 * (r * 3 + i)));
    // all_gather from the own chunk of the output.
    std::vector<float> g(2 * n, -1.f);
    g[2 * r] = float(r), g[2 * r + 1] = float(10 * r);
    auto ag = dev_of(mem, s, g);
    c.all_gather(ag.data() + 2 * r, ag.data(), 2);
    const auto gg = ag.download();
    for (int q = 0; q < n; ++q) CHECK((gg[2 * q] == float(q) && gg[2 * q + 1] == float(10 * q)));
    // broadcast from rank 2; all_to_all: out[q] = in_q[rank].
    auto bc = dev_of(mem, s, std::vector<float>{float(r), float(r)});
    c.broadcast(bc.data(), 2, 2);
    CHECK(bc.download() == std::vector<float>{2.f, 2.f});
    std::vector<float> aa(n);
    for (int q = 0; q < n; ++q) aa[q] = float(r * 10 + q);
    auto ain = dev_of(mem, s, aa), aout = dev_of(mem, s, std::vector<float>(n));
    c.all_to_all(ain.data(), aout.data(), 1);
    const auto ao = aout.download();
    for (int q = 0; q < n; ++q) CHECK(ao[q] == float(q * 10 + r));
  });
}

TEST_CASE("local CUDA point-to-point keeps order per tag and buffers sends") {
  SKIP_WITHOUT_GPU();
  on_ranks(2, [&](int r, DeviceComm& c, Stream s) {
    MemoryTracker mem;
    if (r == 0) {
      for (int i = 0; i < 3; ++i) {
        auto b = dev_of(mem, s, std::vector<float>{float(i), float(i + 1)});
        c.send(b.data(), 2, 1, 7);  // returns at once; b may be freed
      }
      auto t = dev_of(mem, s, to_bf16(std::vector<float>{5.f}));
      c.send(t.data(), 1, 1, 8);
    } else {
      auto t = dev_of(mem, s, to_bf16(std::vector<float>{0.f}));
      c.recv(t.data(), 1, 0, 8);  // another tag first: no head-of-line blocking
      CHECK(to_float(t.download())[0] == 5.f);
      for (int i = 0; i < 3; ++i) {
        auto b = dev_of(mem, s, std::vector<float>(2));
        c.recv(b.data(), 2, 0, 7);
        CHECK(b.download() == std::vector<float>{float(i), float(i + 1)});
      }
    }
  });
}

TEST_CASE("local CUDA sums are bit-reproducible and in rank order") {
  SKIP_WITHOUT_GPU();
  // 1e8 + 1 - 1e8 in float depends on the order: rank order gives (1e8 + 1) - 1e8 = 0.
  std::vector<float> results;
  for (int run = 0; run < 2; ++run)
    on_ranks(3, [&](int r, DeviceComm& c, Stream s) {
      MemoryTracker mem;
      const float v = r == 0 ? 1e8f : r == 1 ? 1.f : -1e8f;
      auto b = dev_of(mem, s, std::vector<float>{v});
      c.all_reduce(b.data(), 1);
      if (r == 0) results.push_back(b.download()[0]);
    });
  REQUIRE(results.size() == 2);
  CHECK(results[0] == 0.f);
  CHECK(results[1] == results[0]);
}

TEST_CASE("local CUDA comm reports mismatched collectives and timeouts instead of hanging") {
  SKIP_WITHOUT_GPU();
  LocalCudaWorld world(2, std::chrono::seconds(2));
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      try {
        use_device(0);
        const Stream s = create_stream();
        MemoryTracker mem;
        auto c = world.communicator({0, 1}, r, s);
        auto b = dev_of(mem, s, std::vector<float>(4, 1.f));
        c->all_reduce(b.data(), r == 0 ? 4 : 3);  // counts differ
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  CHECK(errors[0].find("collective mismatch") != std::string::npos);
  CHECK(errors[1].find("collective mismatch") != std::string::npos);
}

TEST_CASE("NCCL with one rank: world, split and collectives") {
  SKIP_WITHOUT_GPU();
  if (!nccl_built()) {
    MESSAGE("skipped: built without NCCL");
    return;
  }
  use_device(0);
  const Stream s = create_stream();
  {
    NcclWorld world(nccl_unique_id(), 1, 0, s, std::chrono::milliseconds(30000));
    auto all = world.world();
    auto solo = world.split({0});
    MemoryTracker mem;
    auto b = dev_of(mem, s, std::vector<float>{1.f, 2.f});
    all->all_reduce(b.data(), 2);
    solo->all_reduce(b.data(), 2, ReduceOp::max);
    all->barrier();
    CHECK(b.download() == std::vector<float>{1.f, 2.f});
    CHECK_FALSE(world.failed());
  }
  destroy_stream(s);
}

// A rank of the watchdog test below, in a fresh process (this binary run again with only this
// case selected and the role in the environment): no-op in a normal test run.
TEST_CASE("nccl watchdog worker") {
  const char* role = std::getenv("SHARDPLAN_WATCHDOG_RANK");
  if (!role) return;
  const int r = std::atoi(role);
  const std::string id_file = std::getenv("SHARDPLAN_WATCHDOG_ID"),
                    out_file = std::getenv("SHARDPLAN_WATCHDOG_OUT");
  std::string msg = "ok";
  try {
    use_device(r);
    NcclId id;
    if (r == 0) {
      id = nccl_unique_id();
      std::ofstream(id_file + ".tmp", std::ios::binary).write(id.bytes.data(), id.bytes.size());
      std::rename((id_file + ".tmp").c_str(), id_file.c_str());
    } else {
      for (int i = 0; i < 300 && !std::ifstream(id_file).good(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::ifstream(id_file, std::ios::binary).read(id.bytes.data(), id.bytes.size());
    }
    const Stream s = create_stream();
    NcclWorld world(id, 2, r, s, std::chrono::milliseconds(5000));
    auto all = world.world();
    MemoryTracker mem;
    DevBuf<float> b(mem, MemCategory::temporaries, 16, s);
    all->barrier();             // both have joined
    if (r == 1) std::_Exit(0);  // the peer leaves without the next collective
    all->all_reduce(b.data(), 16);
    all->barrier();
  } catch (const std::exception& e) {
    msg = e.what();
  }
  std::ofstream(out_file) << msg;
  std::_Exit(0);
}

TEST_CASE("NCCL watchdog: a rank whose peer never joins the collective fails within the timeout") {
  SKIP_WITHOUT_GPU();
  if (!nccl_built() || device_count() < 2) {
    MESSAGE("skipped: needs NCCL and two GPUs");
    return;
  }
  // Fresh processes (exec): CUDA, initialised in this one, does not survive fork.
  const std::string dir = "/tmp/shardplan-watchdog-" + std::to_string(getpid());
  const std::string id_file = dir + ".id", out_file = dir + ".out";
  std::remove(id_file.c_str());
  std::remove(out_file.c_str());
  const auto t0 = std::chrono::steady_clock::now();
  pid_t kids[2];
  for (int r = 0; r < 2; ++r) {
    kids[r] = fork();
    REQUIRE(kids[r] >= 0);
    if (kids[r] == 0) {
      setenv("SHARDPLAN_WATCHDOG_RANK", std::to_string(r).c_str(), 1);
      setenv("SHARDPLAN_WATCHDOG_ID", id_file.c_str(), 1);
      setenv("SHARDPLAN_WATCHDOG_OUT", out_file.c_str(), 1);
      char exe[] = "/proc/self/exe";
      char filter[] = "--test-case=nccl watchdog worker";
      char* argv[] = {exe, filter, nullptr};
      execv(exe, argv);
      std::_Exit(127);
    }
  }
  for (pid_t p : kids) waitpid(p, nullptr, 0);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ifstream in(out_file);
  const std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO("rank 0 said: " << msg);
  CHECK(!msg.empty());
  CHECK(msg != "ok");
  CHECK(msg.find("NCCL") != std::string::npos);
  CHECK(took < 60);
  std::remove(id_file.c_str());
  std::remove(out_file.c_str());
}
