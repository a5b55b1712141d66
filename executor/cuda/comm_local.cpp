// LocalCudaWorld's communicator. Every collective: synchronise the own stream (inputs ready),
// exchange buffer addresses through the host group (which is also a barrier), move or reduce
// this rank's share on the own stream, synchronise again and meet at a barrier, so no rank
// reuses a buffer a peer still reads or writes.
#include "executor/cuda/comm_local.hpp"

#include <bit>
#include <stdexcept>

namespace shardplan::executor::cuda {

namespace {

struct Post {  // what a rank shares at the start of a collective
  const void* in = nullptr;
  void* out = nullptr;
  int64_t n = 0;
  int64_t type = 0;
};

class LocalComm final : public DeviceComm {
 public:
  LocalComm(std::unique_ptr<Communicator> host, Stream s, int world_rank)
      : host_(std::move(host)), stream_(s), world_rank_(world_rank) {}
  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  Stream stream() const override { return stream_; }
  void barrier() override {
    synchronize(stream_);
    host_->barrier();
  }

 protected:
  void dev_all_reduce(void* buf, int64_t n, DevType t, ReduceOp op) override {
    if (size() == 1 || n == 0) return;
    const std::vector<Post> p = exchange(buf, buf, n, t);
    // This rank reduces chunk [lo, hi) of every buffer in rank order, then writes it everywhere.
    const int64_t lo = n * rank() / size(), hi = n * (rank() + 1) / size();
    reduce_chunk(p, lo, hi - lo, t, op == ReduceOp::max,
                 [&](int r) { return at(p[r].out, lo, t); });
    finish();
  }

  void dev_reduce_scatter(const void* in, void* out, int64_t n, DevType t) override {
    if (size() == 1) return copy_device(out, in, n * dev_type_bytes(t), stream_);
    const std::vector<Post> p = exchange(in, out, n, t);
    reduce_chunk(p, rank() * n, n, t, false, [&](int r) { return r == rank() ? out : nullptr; });
    finish();
  }

  void dev_all_gather(const void* in, void* out, int64_t n, DevType t) override {
    if (size() == 1) return copy_device(out, in, n * dev_type_bytes(t), stream_);
    const std::vector<Post> p = exchange(in, out, n, t);
    for (int r = 0; r < size(); ++r)
      copy_device(at(out, r * n, t), p[r].in, n * dev_type_bytes(t), stream_);
    finish();
  }

  void dev_broadcast(void* buf, int64_t n, DevType t, int root) override {
    if (size() == 1) return;
    const std::vector<Post> p = exchange(buf, buf, n, t);
    if (rank() != root) copy_device(buf, p[root].in, n * dev_type_bytes(t), stream_);
    finish();
  }

  void dev_all_to_all(const void* in, void* out, int64_t n, DevType t) override {
    if (size() == 1) return copy_device(out, in, n * dev_type_bytes(t), stream_);
    const std::vector<Post> p = exchange(in, out, n, t);
    for (int r = 0; r < size(); ++r)
      copy_device(at(out, r * n, t), at(p[r].in, rank() * n, t), n * dev_type_bytes(t), stream_);
    finish();
  }

  // Buffered: the data is copied to a staging allocation that the receiver frees.
  void dev_send(const void* buf, int64_t n, DevType t, int peer, int64_t tag) override {
    const int64_t bytes = n * dev_type_bytes(t);
    void* staging = device_alloc(bytes, stream_);
    copy_device(staging, buf, bytes, stream_);
    synchronize(stream_);
    double msg[3] = {std::bit_cast<double>(reinterpret_cast<uint64_t>(staging)),
                     std::bit_cast<double>(n), std::bit_cast<double>(int64_t(t))};
    host_->send(msg, 3, peer, tag);
  }

  void dev_recv(void* buf, int64_t n, DevType t, int peer, int64_t tag) override {
    double msg[3] = {0, 0, 0};
    host_->recv(msg, 3, peer, tag);
    void* staging = reinterpret_cast<void*>(std::bit_cast<uint64_t>(msg[0]));
    const int64_t got = std::bit_cast<int64_t>(msg[1]), type = std::bit_cast<int64_t>(msg[2]);
    if (got != n || type != int64_t(t)) {
      device_free(staging, stream_);
      fail("recv from group rank " + std::to_string(peer) + " tag " + std::to_string(tag) +
           ": message of " + std::to_string(got) + " elements of type " + std::to_string(type) +
           ", expected " + std::to_string(n) + " of type " + std::to_string(int64_t(t)));
    }
    copy_device(buf, staging, n * dev_type_bytes(t), stream_);
    device_free(staging, stream_);
  }

 private:
  static void* at(void* p, int64_t i, DevType t) {
    return static_cast<char*>(p) + i * dev_type_bytes(t);
  }
  static const void* at(const void* p, int64_t i, DevType t) {
    return static_cast<const char*>(p) + i * dev_type_bytes(t);
  }

  std::vector<Post> exchange(const void* in, void* out, int64_t n, DevType t) {
    synchronize(stream_);  // this rank's inputs are complete before peers read them
    double mine[4] = {std::bit_cast<double>(reinterpret_cast<uint64_t>(in)),
                      std::bit_cast<double>(reinterpret_cast<uint64_t>(out)),
                      std::bit_cast<double>(n), std::bit_cast<double>(int64_t(t))};
    std::vector<double> all(4 * static_cast<size_t>(size()));
    host_->all_gather(mine, all.data(), 4);
    std::vector<Post> p(static_cast<size_t>(size()));
    for (int r = 0; r < size(); ++r) {
      p[r].in = reinterpret_cast<const void*>(std::bit_cast<uint64_t>(all[4 * r]));
      p[r].out = reinterpret_cast<void*>(std::bit_cast<uint64_t>(all[4 * r + 1]));
      p[r].n = std::bit_cast<int64_t>(all[4 * r + 2]);
      p[r].type = std::bit_cast<int64_t>(all[4 * r + 3]);
      if (p[r].n != n || p[r].type != int64_t(t))
        fail("collective mismatch: group rank " + std::to_string(r) + " passed " +
             std::to_string(p[r].n) + " elements of type " + std::to_string(p[r].type) +
             ", this rank " + std::to_string(n) + " of type " + std::to_string(int64_t(t)));
    }
    return p;
  }

  // acc = Σ_r in_r[first .. first+count) in rank order (or max), then written to dst(r) for
  // every rank whose dst is not null.
  template <class Dst>
  void reduce_chunk(const std::vector<Post>& p, int64_t first, int64_t count, DevType t, bool max,
                    Dst&& dst) {
    if (count <= 0) return;
    const int64_t acc_bytes = count * (t == DevType::f64 ? 8 : 4);
    void* acc = device_alloc(acc_bytes, stream_);
    acc_load(acc, at(p[0].in, first, t), t, count, stream_);
    for (int r = 1; r < size(); ++r) acc_reduce(acc, at(p[r].in, first, t), t, count, max, stream_);
    for (int r = 0; r < size(); ++r)
      if (void* d = dst(r)) acc_store(acc, d, t, count, stream_);
    device_free(acc, stream_);
  }

  void finish() {
    synchronize(stream_);
    host_->barrier();
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("local CUDA comm (world rank " + std::to_string(world_rank_) +
                             "): " + what);
  }

  std::unique_ptr<Communicator> host_;
  Stream stream_;
  int world_rank_;
};

}  // namespace

LocalCudaWorld::LocalCudaWorld(int world_size, std::chrono::seconds timeout)
    : host_(world_size, timeout) {}

std::unique_ptr<DeviceComm> LocalCudaWorld::communicator(const std::vector<int>& members,
                                                         int world_rank, Stream s) {
  return std::make_unique<LocalComm>(host_.communicator(members, world_rank), s, world_rank);
}

}  // namespace shardplan::executor::cuda
