// The communicator interface the executor trains through: NCCL-style collectives and
// point-to-point messages over float/double buffers, for one rank of one process group.
#pragma once
#include <cstddef>
#include <cstdint>

namespace shardplan::executor {

enum class ElemType { f32, f64 };
enum class ReduceOp { sum, max };

template <class T> constexpr ElemType elem_type_of();
template <> constexpr ElemType elem_type_of<float>() { return ElemType::f32; }
template <> constexpr ElemType elem_type_of<double>() { return ElemType::f64; }
inline size_t elem_bytes(ElemType t) { return t == ElemType::f32 ? 4 : 8; }

// One rank's handle on a process group. Every member calls each collective in the same order
// with the same count. Counts are elements. Ranks and `root`/`peer` are indices in this group.
// A backend must reduce deterministically (the in-process one sums in group-rank order), so a
// plan run twice gives bit-identical results.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void barrier() = 0;

  // buf[i] = op over ranks of buf[i], in place.
  template <class T> void all_reduce(T* buf, int64_t n, ReduceOp op = ReduceOp::sum) {
    all_reduce_raw(buf, n, elem_type_of<T>(), op);
  }
  // in: size()*n elements; out[i] = sum over ranks r of in_r[rank()*n + i]. `out` may be this
  // rank's own chunk of `in`.
  template <class T> void reduce_scatter(const T* in, T* out, int64_t n) {
    reduce_scatter_raw(in, out, n, elem_type_of<T>());
  }
  // out: size()*n elements; out[r*n + i] = in_r[i]. `in` may be this rank's own chunk of `out`.
  template <class T> void all_gather(const T* in, T* out, int64_t n) {
    all_gather_raw(in, out, n, elem_type_of<T>());
  }
  template <class T> void broadcast(T* buf, int64_t n, int root) {
    broadcast_raw(buf, n, elem_type_of<T>(), root);
  }
  // in, out: size()*n elements; out[r*n + i] = in_r[rank()*n + i].
  template <class T> void all_to_all(const T* in, T* out, int64_t n) {
    all_to_all_raw(in, out, n, elem_type_of<T>());
  }
  // Buffered send (returns once the data is copied out); recv blocks until a message with this
  // (peer, tag) arrives. Messages of one (peer, tag) pair arrive in the order sent.
  template <class T> void send(const T* buf, int64_t n, int peer, int64_t tag) {
    send_raw(buf, n, elem_type_of<T>(), peer, tag);
  }
  template <class T> void recv(T* buf, int64_t n, int peer, int64_t tag) {
    recv_raw(buf, n, elem_type_of<T>(), peer, tag);
  }

 protected:
  virtual void all_reduce_raw(void* buf, int64_t n, ElemType t, ReduceOp op) = 0;
  virtual void reduce_scatter_raw(const void* in, void* out, int64_t n, ElemType t) = 0;
  virtual void all_gather_raw(const void* in, void* out, int64_t n, ElemType t) = 0;
  virtual void broadcast_raw(void* buf, int64_t n, ElemType t, int root) = 0;
  virtual void all_to_all_raw(const void* in, void* out, int64_t n, ElemType t) = 0;
  virtual void send_raw(const void* buf, int64_t n, ElemType t, int peer, int64_t tag) = 0;
  virtual void recv_raw(void* buf, int64_t n, ElemType t, int peer, int64_t tag) = 0;
};

}  // namespace shardplan::executor
