// The communicator interface on the GPU: executor/comm.hpp's Communicator whose buffers are
// device pointers and whose work is ordered on the rank's stream, plus bf16 collectives (the
// parameter all-gathers of ZeRO and bf16 pipeline activations). Two implementations: the local
// one (every rank of a plan on one GPU in one process, comm_local.hpp) and NCCL (comm_nccl.hpp).
#pragma once
#include "executor/comm.hpp"
#include "executor/cuda/device.hpp"
#include "executor/cuda/kernels.hpp"

namespace shardplan::executor::cuda {

class DeviceComm : public Communicator {
 public:
  // The stream every call of this rank is ordered on: a collective reads its inputs after the
  // stream's earlier work and its outputs are ready for the stream's later work.
  virtual Stream stream() const = 0;

  using Communicator::all_gather;
  using Communicator::all_reduce;
  using Communicator::recv;
  using Communicator::reduce_scatter;
  using Communicator::send;
  void all_reduce(bf16* buf, int64_t n) { dev_all_reduce(buf, n, DevType::bf16, ReduceOp::sum); }
  void reduce_scatter(const bf16* in, bf16* out, int64_t n) {
    dev_reduce_scatter(in, out, n, DevType::bf16);
  }
  void all_gather(const bf16* in, bf16* out, int64_t n) {
    dev_all_gather(in, out, n, DevType::bf16);
  }
  void send(const bf16* buf, int64_t n, int peer, int64_t tag) {
    dev_send(buf, n, DevType::bf16, peer, tag);
  }
  void recv(bf16* buf, int64_t n, int peer, int64_t tag) {
    dev_recv(buf, n, DevType::bf16, peer, tag);
  }

 protected:
  virtual void dev_all_reduce(void* buf, int64_t n, DevType t, ReduceOp op) = 0;
  virtual void dev_reduce_scatter(const void* in, void* out, int64_t n, DevType t) = 0;
  virtual void dev_all_gather(const void* in, void* out, int64_t n, DevType t) = 0;
  virtual void dev_broadcast(void* buf, int64_t n, DevType t, int root) = 0;
  virtual void dev_all_to_all(const void* in, void* out, int64_t n, DevType t) = 0;
  virtual void dev_send(const void* buf, int64_t n, DevType t, int peer, int64_t tag) = 0;
  virtual void dev_recv(void* buf, int64_t n, DevType t, int peer, int64_t tag) = 0;

  static DevType dev(ElemType t) { return t == ElemType::f32 ? DevType::f32 : DevType::f64; }
  void all_reduce_raw(void* buf, int64_t n, ElemType t, ReduceOp op) final {
    dev_all_reduce(buf, n, dev(t), op);
  }
  void reduce_scatter_raw(const void* in, void* out, int64_t n, ElemType t) final {
    dev_reduce_scatter(in, out, n, dev(t));
  }
  void all_gather_raw(const void* in, void* out, int64_t n, ElemType t) final {
    dev_all_gather(in, out, n, dev(t));
  }
  void broadcast_raw(void* buf, int64_t n, ElemType t, int root) final {
    dev_broadcast(buf, n, dev(t), root);
  }
  void all_to_all_raw(const void* in, void* out, int64_t n, ElemType t) final {
    dev_all_to_all(in, out, n, dev(t));
  }
  void send_raw(const void* buf, int64_t n, ElemType t, int peer, int64_t tag) final {
    dev_send(buf, n, dev(t), peer, tag);
  }
  void recv_raw(void* buf, int64_t n, ElemType t, int peer, int64_t tag) final {
    dev_recv(buf, n, dev(t), peer, tag);
  }
};

}  // namespace shardplan::executor::cuda
