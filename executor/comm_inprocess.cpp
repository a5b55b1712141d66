// InProcessWorld and its Communicator: barrier-synchronised collectives over shared memory.
// Each collective posts pointers, meets at a barrier, reads peers' buffers, and meets again
// before returning so no rank reuses a buffer a peer is still reading.
#include "executor/comm_inprocess.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

namespace shardplan::executor {

InProcessWorld::Group::Group(std::vector<int> m)
    : members(std::move(m)), in(members.size()), out(members.size()),
      count(members.size()), scratch(members.size()) {}

InProcessWorld::InProcessWorld(int world_size, std::chrono::seconds timeout,
                               std::chrono::microseconds spin)
    : world_size_(world_size), timeout_(timeout),
      spin_(spin < std::chrono::microseconds{0} ? default_spin(world_size) : spin),
      mailbox_(std::make_unique<Mailbox>()) {}

std::chrono::microseconds InProcessWorld::default_spin(int world_size) {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return world_size <= std::max(1, cores) ? std::chrono::microseconds{200}
                                          : std::chrono::microseconds{0};
}
InProcessWorld::~InProcessWorld() = default;

std::string InProcessWorld::abort_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return abort_reason_;
}

void InProcessWorld::abort(const std::string& why) {
  std::vector<std::shared_ptr<Group>> groups;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!aborted_) abort_reason_ = why;
    aborted_ = true;
    for (auto& [k, g] : groups_) groups.push_back(g);
  }
  for (auto& g : groups) {
    std::lock_guard<std::mutex> lock(g->mu);
    g->cv.notify_all();
  }
  std::lock_guard<std::mutex> lock(mailbox_->mu);
  mailbox_->cv.notify_all();
}

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `done` for up to `spin`; true as soon as `done` holds, false when the time is up (the
// caller blocks). No sched_yield: on a busy machine a yield hands the core to another process for
// a whole time slice (EEVDF), which costs more than the wake-up that spinning avoids.
template <class F>
bool spin_until(std::chrono::microseconds spin, F&& done) {
  if (spin.count() <= 0) return done();
  const auto end = std::chrono::steady_clock::now() + spin;
  for (unsigned i = 1;; ++i) {
    if (done()) return true;
    cpu_relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() >= end) return done();
  }
}

template <class T>
void reduce_into(T* acc, const T* x, int64_t n, ReduceOp op) {
  if (op == ReduceOp::sum)
    for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
  else
    for (int64_t i = 0; i < n; ++i) acc[i] = std::max(acc[i], x[i]);
}

class InProcessComm final : public Communicator {
 public:
  InProcessComm(InProcessWorld& w, std::shared_ptr<InProcessWorld::Group> g, int index)
      : world_(w), g_(std::move(g)), me_(index) {}
  int rank() const override { return me_; }
  int size() const override { return static_cast<int>(g_->members.size()); }

  void barrier() override {
    uint64_t gen = 0;
    {
      std::lock_guard<std::mutex> lock(g_->mu);
      gen = g_->generation.load();
      if (++g_->arrived == size()) {
        g_->arrived = 0;
        g_->generation.store(gen + 1, std::memory_order_release);
        g_->cv.notify_all();
        return;
      }
    }
    const auto passed = [&] {
      return g_->generation.load(std::memory_order_acquire) != gen || world_.aborted();
    };
    std::unique_lock<std::mutex> lock(g_->mu, std::defer_lock);
    bool ok = spin_until(world_.spin(), passed);
    if (!ok) {
      lock.lock();
      ok = g_->cv.wait_for(lock, world_.timeout(), passed);
    }
    if (g_->generation != gen) return;
    if (world_.aborted()) throw CommAborted(world_.abort_reason());
    if (!ok) fail("collective timed out (a rank of the group never joined)");
  }

 protected:
  void all_reduce_raw(void* buf, int64_t n, ElemType t, ReduceOp op) override {
    if (size() == 1 || n == 0) return;
    post(buf, buf, n);
    barrier();
    check_counts(n);
    // This rank reduces chunk [lo, hi) of every buffer, in rank order, then writes it everywhere.
    const int64_t lo = n * me_ / size(), hi = n * (me_ + 1) / size();
    const size_t eb = elem_bytes(t);
    auto& mine = g_->scratch[me_];
    mine.resize((hi - lo) * eb);
    copy(mine.data(), at(g_->in[0], lo, t), hi - lo, t);  // empty chunks when n < size()
    for (int r = 1; r < size(); ++r) {
      if (t == ElemType::f32)
        reduce_into(reinterpret_cast<float*>(mine.data()),
                    static_cast<const float*>(g_->in[r]) + lo, hi - lo, op);
      else
        reduce_into(reinterpret_cast<double*>(mine.data()),
                    static_cast<const double*>(g_->in[r]) + lo, hi - lo, op);
    }
    barrier();  // every input read
    for (int r = 0; r < size(); ++r)
      copy(at(g_->out[r], lo, t), mine.data(), hi - lo, t);
    barrier();  // every output written
  }

  void reduce_scatter_raw(const void* in, void* out, int64_t n, ElemType t) override {
    if (size() == 1) return copy(out, in, n, t);
    post(in, out, n);
    barrier();
    check_counts(n);
    std::vector<std::byte> acc(n * elem_bytes(t));
    copy(acc.data(), at(g_->in[0], me_ * n, t), n, t);
    for (int r = 1; r < size(); ++r) {
      if (t == ElemType::f32)
        reduce_into(reinterpret_cast<float*>(acc.data()),
                    static_cast<const float*>(g_->in[r]) + me_ * n, n, ReduceOp::sum);
      else
        reduce_into(reinterpret_cast<double*>(acc.data()),
                    static_cast<const double*>(g_->in[r]) + me_ * n, n, ReduceOp::sum);
    }
    barrier();  // every input read before anyone (this rank included) overwrites
    copy(out, acc.data(), n, t);
    barrier();
  }

  void all_gather_raw(const void* in, void* out, int64_t n, ElemType t) override {
    if (size() == 1) return copy(out, in, n, t);
    post(in, out, n);
    barrier();
    check_counts(n);
    for (int r = 0; r < size(); ++r) copy(at(out, r * n, t), g_->in[r], n, t);
    barrier();
  }

  void broadcast_raw(void* buf, int64_t n, ElemType t, int root) override {
    if (size() == 1) return;
    post(buf, buf, n);
    barrier();
    check_counts(n);
    if (me_ != root) copy(buf, g_->in[root], n, t);
    barrier();
  }

  void all_to_all_raw(const void* in, void* out, int64_t n, ElemType t) override {
    if (size() == 1) return copy(out, in, n, t);
    post(in, out, n);
    barrier();
    check_counts(n);
    for (int r = 0; r < size(); ++r)
      copy(at(out, r * n, t), static_cast<const std::byte*>(g_->in[r]) + me_ * n * elem_bytes(t),
           n, t);
    barrier();
  }

  void send_raw(const void* buf, int64_t n, ElemType t, int peer, int64_t tag) override {
    auto& mb = world_.mailbox();
    const auto* p = static_cast<const std::byte*>(buf);
    std::vector<std::byte> msg(p, p + n * elem_bytes(t));
    std::lock_guard<std::mutex> lock(mb.mu);
    mb.queues[{g_->members[me_], g_->members[peer], tag}].push_back(std::move(msg));
    mb.sends.fetch_add(1, std::memory_order_release);
    mb.cv.notify_all();
  }

  void recv_raw(void* buf, int64_t n, ElemType t, int peer, int64_t tag) override {
    auto& mb = world_.mailbox();
    const std::tuple<int, int, int64_t> key{g_->members[peer], g_->members[me_], tag};
    auto ready = [&] {
      auto it = mb.queues.find(key);
      return (it != mb.queues.end() && !it->second.empty()) || world_.aborted();
    };
    // Poll the send counter without the lock; look in the map only when something was sent.
    std::unique_lock<std::mutex> lock(mb.mu);
    uint64_t seen = mb.sends.load(std::memory_order_acquire);
    if (!ready() && world_.spin().count() > 0) {
      const auto end = std::chrono::steady_clock::now() + world_.spin();
      do {
        lock.unlock();
        spin_until(std::chrono::duration_cast<std::chrono::microseconds>(
                       end - std::chrono::steady_clock::now()),
                   [&] { return mb.sends.load(std::memory_order_acquire) != seen || world_.aborted(); });
        lock.lock();
        seen = mb.sends.load(std::memory_order_acquire);
      } while (!ready() && std::chrono::steady_clock::now() < end);
    }
    if (!mb.cv.wait_for(lock, world_.timeout(), ready))
      fail("recv from rank " + std::to_string(g_->members[peer]) + " tag " +
           std::to_string(tag) + " timed out (no matching send: schedule deadlock?)");
    if (world_.aborted()) throw CommAborted(world_.abort_reason());
    auto it = mb.queues.find(key);
    std::vector<std::byte> msg = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) mb.queues.erase(it);
    if (msg.size() != static_cast<size_t>(n) * elem_bytes(t))
      fail("recv from rank " + std::to_string(g_->members[peer]) + ": message of " +
           std::to_string(msg.size()) + " bytes, expected " +
           std::to_string(n * elem_bytes(t)));
    std::memcpy(buf, msg.data(), msg.size());
  }

 private:
  static void* at(void* p, int64_t i, ElemType t) {
    return static_cast<std::byte*>(p) + i * elem_bytes(t);
  }
  static const void* at(const void* p, int64_t i, ElemType t) {
    return static_cast<const std::byte*>(p) + i * elem_bytes(t);
  }
  static void copy(void* dst, const void* src, int64_t n, ElemType t) {
    if (dst != src && n > 0) std::memmove(dst, src, n * elem_bytes(t));
  }
  void post(const void* in, void* out, int64_t n) {
    std::lock_guard<std::mutex> lock(g_->mu);
    g_->in[me_] = in;
    g_->out[me_] = out;
    g_->count[me_] = n;
  }
  void check_counts(int64_t n) {
    for (int r = 0; r < size(); ++r)
      if (g_->count[r] != n)
        fail("collective count mismatch: rank " + std::to_string(g_->members[r]) + " passed " +
             std::to_string(g_->count[r]) + " elements, this rank " + std::to_string(n));
  }
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("in-process comm (world rank " + std::to_string(g_->members[me_]) +
                             "): " + what);
  }

  InProcessWorld& world_;
  std::shared_ptr<InProcessWorld::Group> g_;
  int me_;
};

}  // namespace

std::unique_ptr<Communicator> InProcessWorld::communicator(const std::vector<int>& members,
                                                           int world_rank) {
  auto pos = std::find(members.begin(), members.end(), world_rank);
  if (pos == members.end() || !std::is_sorted(members.begin(), members.end()))
    throw std::invalid_argument("communicator: rank not in group, or group not ascending");
  std::shared_ptr<Group> g;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = groups_[members];
    if (!slot) slot = std::make_shared<Group>(members);
    g = slot;
  }
  return std::make_unique<InProcessComm>(*this, g, static_cast<int>(pos - members.begin()));
}

}  // namespace shardplan::executor
