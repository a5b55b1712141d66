// NcclWorld: non-blocking NCCL communicators (so initialisation and every call can be bounded
// and aborted), the watchdog thread, and the DeviceComm over one NCCL communicator. Without
// NCCL at build time every entry point throws a CudaError saying so.
#include "executor/cuda/comm_nccl.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "executor/cuda/check.hpp"

#ifdef SHARDPLAN_HAVE_NCCL
#include <nccl.h>
#endif

namespace shardplan::executor::cuda {

#ifndef SHARDPLAN_HAVE_NCCL

namespace {
[[noreturn]] void no_nccl() {
  throw CudaError(
      "this build of shardplan has no NCCL (nccl.h or libnccl was not found when CMake configured "
      "executor/cuda; set NCCL_HOME and reconfigure): the multi-process CUDA backend needs it");
}
}  // namespace

bool nccl_built() {
  return false;
}
std::vector<double> nccl_all_reduce_times(int, const std::vector<int64_t>&, double) {
  no_nccl();
}
std::string nccl_version() {
  return "none (built without NCCL)";
}
NcclId nccl_unique_id() {
  no_nccl();
}
struct NcclWorld::Impl {};
NcclWorld::NcclWorld(const NcclId&, int, int, Stream, std::chrono::milliseconds) {
  no_nccl();
}
NcclWorld::~NcclWorld() = default;
int NcclWorld::rank() const {
  return 0;
}
int NcclWorld::size() const {
  return 0;
}
std::unique_ptr<DeviceComm> NcclWorld::world() {
  no_nccl();
}
std::unique_ptr<DeviceComm> NcclWorld::split(const std::vector<int>&) {
  no_nccl();
}
void NcclWorld::connect_pairs(const std::vector<P2PLink>&, int) {
  no_nccl();
}
void NcclWorld::check() const {}
bool NcclWorld::failed() const {
  return false;
}
std::string NcclWorld::failure() const {
  return "";
}

#else

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kWatchdogPoll = std::chrono::milliseconds(50);

ncclDataType_t nccl_type(DevType t) {
  return t == DevType::f32 ? ncclFloat32 : t == DevType::f64 ? ncclFloat64 : ncclBfloat16;
}
std::string ms_text(std::chrono::milliseconds t) {
  return std::to_string(t.count()) + " ms";
}
}  // namespace

bool nccl_built() {
  return true;
}

std::string nccl_version() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "unknown";
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." +
         std::to_string(v % 100);
}

NcclId nccl_unique_id() {
  static_assert(sizeof(ncclUniqueId) == sizeof(NcclId::bytes));
  ncclUniqueId uid;
  SHARDPLAN_NCCL_CHECK(ncclGetUniqueId(&uid));
  NcclId id;
  std::memcpy(id.bytes.data(), &uid, sizeof uid);
  return id;
}

std::vector<double> nccl_all_reduce_times(int devices, const std::vector<int64_t>& bytes,
                                          double seconds) {
  if (devices < 2) throw std::invalid_argument("nccl_all_reduce_times: needs two or more GPUs");
  int64_t most = 0;
  for (int64_t b : bytes) most = std::max(most, b);
  std::vector<int> ids(static_cast<size_t>(devices));
  for (int d = 0; d < devices; ++d) ids[d] = d;
  std::vector<ncclComm_t> comms(static_cast<size_t>(devices));
  SHARDPLAN_NCCL_CHECK(ncclCommInitAll(comms.data(), devices, ids.data()));
  std::vector<Stream> streams(static_cast<size_t>(devices));
  std::vector<void*> bufs(static_cast<size_t>(devices));
  for (int d = 0; d < devices; ++d) {
    SHARDPLAN_CUDA_CHECK(cudaSetDevice(d));
    streams[d] = create_stream();
    SHARDPLAN_CUDA_CHECK(cudaMalloc(&bufs[d], static_cast<size_t>(std::max<int64_t>(most, 2))));
    SHARDPLAN_CUDA_CHECK(cudaMemset(bufs[d], 0, static_cast<size_t>(std::max<int64_t>(most, 2))));
  }
  auto once = [&](int64_t b) {
    SHARDPLAN_NCCL_CHECK(ncclGroupStart());
    for (int d = 0; d < devices; ++d)
      SHARDPLAN_NCCL_CHECK(ncclAllReduce(bufs[d], bufs[d], size_t(b / 2), ncclBfloat16, ncclSum,
                                         comms[d], streams[d]));
    SHARDPLAN_NCCL_CHECK(ncclGroupEnd());
    for (int d = 0; d < devices; ++d) synchronize(streams[d]);
  };
  std::vector<double> out;
  for (int64_t b : bytes) {
    once(b);  // warm-up (connection set-up)
    std::vector<double> t;
    const auto start = Clock::now();
    while (t.size() < 5 || (std::chrono::duration<double>(Clock::now() - start).count() < seconds &&
                            t.size() < 1000)) {
      const auto t0 = Clock::now();
      once(b);
      t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    out.push_back(t[t.size() / 2]);
  }
  for (int d = 0; d < devices; ++d) {
    SHARDPLAN_CUDA_CHECK(cudaSetDevice(d));
    SHARDPLAN_CUDA_CHECK(cudaFree(bufs[d]));
    destroy_stream(streams[d]);
    SHARDPLAN_NCCL_CHECK(ncclCommDestroy(comms[d]));
  }
  SHARDPLAN_CUDA_CHECK(cudaSetDevice(0));
  return out;
}

struct NcclWorld::Impl {
  int rank = 0, size = 0, device = 0;
  Stream stream = nullptr;
  std::chrono::milliseconds timeout{0};
  ncclComm_t world = nullptr;
  std::vector<ncclComm_t> comms;  // every communicator of this process, world first
  struct Link {
    ncclComm_t comm = nullptr;
    Stream stream = nullptr;
    int peer = 0;  // the other end's rank in the two-rank communicator
    // Messages that arrived before the one a recv wanted, by tag (staging buffers, header kept).
    std::map<int64_t, std::deque<char*> > early;
  };
  std::map<std::tuple<int, int, int>, Link> links;  // (src, dst, channel)
  int channels = 1;

  mutable std::mutex mu;
  // ncclCommAbort frees a communicator, so no call on it may be in flight, or start, once the
  // watchdog aborts: every NCCL call of the rank's thread runs under `calls` (enter()) and the
  // abort takes it too. Non-blocking communicators return from every call promptly (ncclInProgress
  // instead of waiting), so the watchdog waits at most one call. Lock order: `calls`, then `mu`.
  std::mutex calls;
  std::condition_variable cv;
  bool stop = false;
  std::atomic<bool> aborted{false};
  std::string error;
  struct Pending {
    cudaEvent_t ev = nullptr;
    Clock::time_point start;
    std::string what;
  };
  std::deque<Pending> pending;
  std::thread watchdog;

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
    for (auto& p : pending) cudaEventDestroy(p.ev);
    if (!aborted) {
      for (auto& [k, l] : links) cudaStreamSynchronize(l.stream);
      cudaStreamSynchronize(stream);
      for (auto it = comms.rbegin(); it != comms.rend(); ++it) {
        // Finalize flushes outstanding work; a failure here can only be reported.
        if (ncclCommFinalize(*it) == ncclInProgress) {
          ncclResult_t st = ncclInProgress;
          const auto t0 = Clock::now();
          while (st == ncclInProgress && Clock::now() - t0 < timeout)
            ncclCommGetAsyncError(*it, &st);
        }
        ncclCommDestroy(*it);
      }
    }
    for (auto& [k, l] : links) {
      for (auto& [tag, q] : l.early)
        for (char* m : q) device_free(m, l.stream);
      destroy_stream(l.stream);
    }
  }

  void check() const {
    if (aborted) {
      std::lock_guard<std::mutex> lock(mu);
      throw CudaError(error);
    }
  }

  // Holds `calls` for one NCCL call (or group of calls) of the rank's thread; throws the
  // watchdog's error instead when it has aborted the communicators.
  [[nodiscard]] std::unique_lock<std::mutex> enter() {
    std::unique_lock<std::mutex> lock(calls);
    check();
    return lock;
  }

  // Aborts every communicator of the process once; the rank's next call throws `why`.
  void fail(const std::string& why) {
    std::vector<ncclComm_t> all;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (aborted) return;
      error = "NCCL (world rank " + std::to_string(rank) + "): " + why;
      all = comms;
      aborted = true;
    }
    std::fprintf(stderr, "shardplan: %s; aborting this rank's NCCL communicators\n", error.c_str());
    std::lock_guard<std::mutex> lock(calls);  // no call in flight; later ones see `aborted`
    for (ncclComm_t c : all) ncclCommAbort(c);
  }

  // A non-blocking communicator's call may return ncclInProgress: wait until it has settled,
  // within the timeout.
  void settle(ncclComm_t c, const std::string& what) {
    const auto t0 = Clock::now();
    for (int spins = 0;; ++spins) {
      ncclResult_t st = ncclSuccess;
      {
        auto in = enter();
        SHARDPLAN_NCCL_CHECK(ncclCommGetAsyncError(c, &st));
      }
      if (st == ncclSuccess) return;
      if (st != ncclInProgress) {
        fail(what + " failed: " + ncclGetErrorString(st) + "; " + ncclGetLastError(c));
        check();
      }
      if (Clock::now() - t0 > timeout) {
        fail(what + " did not complete within " + ms_text(timeout) +
             " (a peer rank failed, exited or never joined)");
        check();
      }
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  // Records an event after `what` on `s` for the watchdog to follow.
  void track(Stream s, std::string what) {
    cudaEvent_t ev = nullptr;
    SHARDPLAN_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    SHARDPLAN_CUDA_CHECK(cudaEventRecord(ev, s));
    std::lock_guard<std::mutex> lock(mu);
    pending.push_back({ev, Clock::now(), std::move(what)});
  }

  void watch() {
    cudaSetDevice(device);
    std::unique_lock<std::mutex> lock(mu);
    while (!stop && !aborted) {
      cv.wait_for(lock, kWatchdogPoll);
      if (stop || aborted) break;
      std::string why;
      while (!pending.empty()) {  // operations on one stream finish in order
        const cudaError_t q = cudaEventQuery(pending.front().ev);
        if (q == cudaErrorNotReady) break;
        if (q != cudaSuccess)
          why = "a CUDA error while waiting for '" + pending.front().what +
                "': " + cudaGetErrorString(q);
        cudaEventDestroy(pending.front().ev);
        pending.pop_front();
      }
      if (why.empty() && !pending.empty() && Clock::now() - pending.front().start > timeout)
        why = "'" + pending.front().what + "' did not complete within " + ms_text(timeout) +
              " (a peer rank failed, exited or is stuck)";
      for (ncclComm_t c : comms) {
        ncclResult_t st = ncclSuccess;
        if (why.empty() && ncclCommGetAsyncError(c, &st) == ncclSuccess && st != ncclSuccess &&
            st != ncclInProgress)
          why = std::string("asynchronous NCCL error: ") + ncclGetErrorString(st) + "; " +
                ncclGetLastError(c);
      }
      if (!why.empty()) {
        lock.unlock();
        fail(why);
        lock.lock();
      }
    }
  }

  ncclComm_t split_off(int color, int key, const std::string& what) {
    check();
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    ncclComm_t c = nullptr;
    {
      auto in = enter();
      SHARDPLAN_NCCL_CHECK(ncclCommSplit(world, color, key, &c, &cfg));
    }
    settle(world, what);
    if (c) {
      settle(c, what);
      std::lock_guard<std::mutex> lock(mu);
      comms.push_back(c);
    }
    return c;
  }
};

namespace {

class NcclComm final : public DeviceComm {
 public:
  NcclComm(std::shared_ptr<NcclWorld::Impl> w, ncclComm_t c, std::vector<int> members)
      : w_(std::move(w)), c_(c), members_(std::move(members)) {
    for (size_t i = 0; i < members_.size(); ++i)
      if (members_[i] == w_->rank) me_ = static_cast<int>(i);
    SHARDPLAN_CUDA_CHECK(cudaMalloc(&scratch_, sizeof(float)));
    SHARDPLAN_CUDA_CHECK(cudaMemset(scratch_, 0, sizeof(float)));
  }
  ~NcclComm() override { cudaFree(scratch_); }
  int rank() const override { return me_; }
  int size() const override { return static_cast<int>(members_.size()); }
  Stream stream() const override { return w_->stream; }

  void barrier() override {
    {
      auto in = w_->enter();
      SHARDPLAN_NCCL_CHECK(
          ncclAllReduce(scratch_, scratch_, 1, ncclFloat32, ncclSum, c_, w_->stream));
    }
    done("barrier");
    try {
      synchronize(w_->stream);
    } catch (const CudaError&) {
      w_->check();  // the watchdog's reason, when it aborted the wait
      throw;
    }
    w_->check();
  }

 protected:
  void dev_all_reduce(void* buf, int64_t n, DevType t, ReduceOp op) override {
    if (n == 0) return;
    {
      auto in = w_->enter();
      SHARDPLAN_NCCL_CHECK(ncclAllReduce(buf, buf, size_t(n), nccl_type(t),
                                         op == ReduceOp::max ? ncclMax : ncclSum, c_, w_->stream));
    }
    done("all_reduce of " + std::to_string(n) + " elements");
  }
  void dev_reduce_scatter(const void* in, void* out, int64_t n, DevType t) override {
    if (n == 0) return;
    {
      auto in_call = w_->enter();
      SHARDPLAN_NCCL_CHECK(
          ncclReduceScatter(in, out, size_t(n), nccl_type(t), ncclSum, c_, w_->stream));
    }
    done("reduce_scatter of " + std::to_string(n) + " elements per rank");
  }
  void dev_all_gather(const void* in, void* out, int64_t n, DevType t) override {
    if (n == 0) return;
    {
      auto in_call = w_->enter();
      SHARDPLAN_NCCL_CHECK(ncclAllGather(in, out, size_t(n), nccl_type(t), c_, w_->stream));
    }
    done("all_gather of " + std::to_string(n) + " elements per rank");
  }
  void dev_broadcast(void* buf, int64_t n, DevType t, int root) override {
    if (n == 0) return;
    {
      auto in = w_->enter();
      SHARDPLAN_NCCL_CHECK(ncclBroadcast(buf, buf, size_t(n), nccl_type(t), root, c_, w_->stream));
    }
    done("broadcast of " + std::to_string(n) + " elements");
  }
  void dev_all_to_all(const void* in, void* out, int64_t n, DevType t) override {
    if (n == 0) return;
    const int64_t b = n * dev_type_bytes(t);
    {
      auto in_call = w_->enter();
      SHARDPLAN_NCCL_CHECK(ncclGroupStart());
      for (int r = 0; r < size(); ++r) {
        SHARDPLAN_NCCL_CHECK(ncclSend(static_cast<const char*>(in) + r * b, size_t(n),
                                      nccl_type(t), r, c_, w_->stream));
        SHARDPLAN_NCCL_CHECK(
            ncclRecv(static_cast<char*>(out) + r * b, size_t(n), nccl_type(t), r, c_, w_->stream));
      }
      SHARDPLAN_NCCL_CHECK(ncclGroupEnd());
    }
    done("all_to_all of " + std::to_string(n) + " elements per pair");
  }

  // A message is a 16-byte header {tag, n} and the payload, copied to a staging buffer on the
  // rank's stream and sent from the link's stream: the caller may reuse `buf` at once.
  void dev_send(const void* buf, int64_t n, DevType t, int peer, int64_t tag) override {
    w_->check();
    NcclWorld::Impl::Link& l = link(members_[me_], members_[peer], tag);
    const int64_t payload = n * dev_type_bytes(t), bytes = kHeader + payload;
    char* staging = static_cast<char*>(device_alloc(bytes, w_->stream));
    const int64_t header[2] = {tag, n};
    copy_to_device(staging, header, kHeader, w_->stream);
    copy_device(staging + kHeader, buf, payload, w_->stream);
    order(w_->stream, l.stream);
    {
      auto in = w_->enter();
      SHARDPLAN_NCCL_CHECK(ncclSend(staging, size_t(bytes), ncclUint8, l.peer, l.comm, l.stream));
    }
    w_->settle(l.comm, "send");
    w_->track(l.stream, "send of tag " + std::to_string(tag) + " to world rank " +
                            std::to_string(members_[peer]));
    device_free(staging, l.stream);
  }

  // Messages on a link arrive in the order sent; one that arrives before the one wanted waits in
  // `early` (same channel: same size), so receivers may take them in any order, as the CPU
  // backend's mailbox allows.
  void dev_recv(void* buf, int64_t n, DevType t, int peer, int64_t tag) override {
    w_->check();
    NcclWorld::Impl::Link& l = link(members_[peer], members_[me_], tag);
    const int64_t payload = n * dev_type_bytes(t), bytes = kHeader + payload;
    const std::string what =
        "recv of tag " + std::to_string(tag) + " from world rank " + std::to_string(members_[peer]);
    char* staging = nullptr;
    int64_t header[2] = {0, 0};
    if (auto it = l.early.find(tag); it != l.early.end()) {
      staging = it->second.front();
      it->second.pop_front();
      if (it->second.empty()) l.early.erase(it);
      copy_to_host(header, staging, kHeader, l.stream);
    }
    while (!staging) {
      char* m = static_cast<char*>(device_alloc(bytes, l.stream));
      {
        auto in = w_->enter();
        SHARDPLAN_NCCL_CHECK(ncclRecv(m, size_t(bytes), ncclUint8, l.peer, l.comm, l.stream));
      }
      w_->settle(l.comm, what);
      w_->track(l.stream, what);
      try {
        copy_to_host(header, m, kHeader, l.stream);  // waits for the message
      } catch (const CudaError&) {
        w_->check();  // the watchdog's reason, when it aborted the wait
        throw;
      }
      w_->check();
      if (header[0] == tag) {
        staging = m;
      } else {
        auto& q = l.early[header[0]];
        if (q.size() >= kMaxEarly)
          throw CudaError("NCCL (world rank " + std::to_string(w_->rank) + "): " + what +
                          ": more than " + std::to_string(kMaxEarly) + " messages of tag " +
                          std::to_string(header[0]) +
                          " arrived first (the schedules do not match)");
        q.push_back(m);
      }
    }
    if (header[1] != n) {
      device_free(staging, l.stream);
      throw CudaError("NCCL (world rank " + std::to_string(w_->rank) + "): " + what + " got " +
                      std::to_string(header[1]) + " elements, expected " + std::to_string(n));
    }
    order(l.stream, w_->stream);
    copy_device(buf, staging + kHeader, payload, w_->stream);
    device_free(staging, w_->stream);
  }

 private:
  static constexpr int64_t kHeader = 16;
  static constexpr size_t kMaxEarly = 4096;

  NcclWorld::Impl::Link& link(int src, int dst, int64_t tag) {
    const int channel = static_cast<int>(tag % w_->channels);
    auto it = w_->links.find({src, dst, channel});
    if (it == w_->links.end())
      throw std::logic_error("NCCL: no point-to-point link from world rank " + std::to_string(src) +
                             " to " + std::to_string(dst) + " on channel " +
                             std::to_string(channel) + " (NcclWorld::connect_pairs)");
    return it->second;
  }
  // Later work on `after` waits for the work queued so far on `before`.
  static void order(Stream before, Stream after) {
    cudaEvent_t ev = nullptr;
    SHARDPLAN_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    SHARDPLAN_CUDA_CHECK(cudaEventRecord(ev, before));
    SHARDPLAN_CUDA_CHECK(cudaStreamWaitEvent(after, ev, 0));
    SHARDPLAN_CUDA_CHECK(cudaEventDestroy(ev));  // released once the wait has happened
  }
  void done(const std::string& what) {
    w_->settle(c_, what);
    w_->track(w_->stream, what);
  }

  std::shared_ptr<NcclWorld::Impl> w_;
  ncclComm_t c_;
  std::vector<int> members_;
  int me_ = 0;
  void* scratch_ = nullptr;
};

}  // namespace

NcclWorld::NcclWorld(const NcclId& id, int world_size, int rank, Stream s,
                     std::chrono::milliseconds timeout)
    : impl_(std::make_shared<Impl>()) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw std::invalid_argument("NcclWorld: rank " + std::to_string(rank) + " of " +
                                std::to_string(world_size));
  impl_->rank = rank;
  impl_->size = world_size;
  impl_->stream = s;
  impl_->timeout = timeout;
  SHARDPLAN_CUDA_CHECK(cudaGetDevice(&impl_->device));
  impl_->watchdog = std::thread([w = impl_.get()] { w->watch(); });
  ncclUniqueId uid;
  std::memcpy(&uid, id.bytes.data(), sizeof uid);
  ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
  cfg.blocking = 0;
  ncclComm_t c = nullptr;
  SHARDPLAN_NCCL_CHECK(ncclCommInitRankConfig(&c, world_size, uid, rank, &cfg));
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->world = c;
    impl_->comms.push_back(c);
  }
  impl_->settle(c, "joining the NCCL world of " + std::to_string(world_size) + " ranks");
}

NcclWorld::~NcclWorld() = default;

int NcclWorld::rank() const {
  return impl_->rank;
}
int NcclWorld::size() const {
  return impl_->size;
}
void NcclWorld::check() const {
  impl_->check();
}
bool NcclWorld::failed() const {
  return impl_->aborted;
}
std::string NcclWorld::failure() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->error;
}

std::unique_ptr<DeviceComm> NcclWorld::world() {
  std::vector<int> all(static_cast<size_t>(impl_->size));
  for (int r = 0; r < impl_->size; ++r) all[r] = r;
  return std::make_unique<NcclComm>(impl_, impl_->world, std::move(all));
}

std::unique_ptr<DeviceComm> NcclWorld::split(const std::vector<int>& members) {
  if (!members.empty() && std::find(members.begin(), members.end(), impl_->rank) == members.end())
    throw std::invalid_argument("NcclWorld::split: this rank is not in the group it passed");
  // Groups of one call are disjoint, so the lowest member names each one.
  const int color = members.empty() ? NCCL_SPLIT_NOCOLOR : members.front();
  ncclComm_t c = impl_->split_off(color, impl_->rank,
                                  "ncclCommSplit of a group of " + std::to_string(members.size()));
  if (!c) return nullptr;
  return std::make_unique<NcclComm>(impl_, c, members);
}

void NcclWorld::connect_pairs(const std::vector<P2PLink>& links, int channels) {
  if (channels < 1) throw std::invalid_argument("NcclWorld::connect_pairs: channels < 1");
  // Rounds in which no rank is in two links, so one ncclCommSplit per round serves them all.
  std::vector<std::vector<size_t> > rounds;
  std::vector<std::set<int> > busy;
  for (size_t i = 0; i < links.size(); ++i) {
    const P2PLink& k = links[i];
    const bool repeated = std::find(links.begin(), links.begin() + i, k) != links.begin() + i;
    if (k.src == k.dst || k.src < 0 || k.dst < 0 || k.src >= impl_->size || k.dst >= impl_->size ||
        k.channel < 0 || k.channel >= channels || repeated)
      throw std::invalid_argument("NcclWorld::connect_pairs: bad or repeated link " +
                                  std::to_string(k.src) + " -> " + std::to_string(k.dst) +
                                  " channel " + std::to_string(k.channel));
    size_t r = 0;
    while (r < rounds.size() && (busy[r].count(k.src) || busy[r].count(k.dst))) ++r;
    if (r == rounds.size()) rounds.emplace_back(), busy.emplace_back();
    rounds[r].push_back(i);
    busy[r].insert(k.src);
    busy[r].insert(k.dst);
  }
  impl_->channels = channels;
  for (const auto& round : rounds) {
    int color = NCCL_SPLIT_NOCOLOR, key = 0;
    size_t mine = links.size();
    for (size_t i : round)
      if (links[i].src == impl_->rank || links[i].dst == impl_->rank) {
        mine = i;
        color = static_cast<int>(i);
        key = links[i].src == impl_->rank ? 0 : 1;
      }
    ncclComm_t c = impl_->split_off(color, key, "ncclCommSplit of point-to-point links");
    if (mine == links.size()) continue;
    Impl::Link l;
    l.comm = c;
    l.stream = create_stream();
    l.peer = 1 - key;
    impl_->links[{links[mine].src, links[mine].dst, links[mine].channel}] = l;
  }
}

#endif  // SHARDPLAN_HAVE_NCCL

}  // namespace shardplan::executor::cuda
