// Device basics for the CUDA backend: the bf16 storage type, whether a GPU is present, streams,
// and DevBuf<T>, a move-only device array charged to a rank's MemoryTracker (the CPU backend's
// Buffer<T> on the GPU). Allocation is stream-ordered (cudaMallocAsync from the device's pool,
// whose high-water mark is the measured peak memory). No CUDA header is needed to include this.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "executor/memory.hpp"

struct CUstream_st;  // = cudaStream_t's pointee

namespace shardplan::executor::cuda {

using Stream = CUstream_st*;

// bfloat16 storage: the top 16 bits of an IEEE float. Arithmetic happens in float.
struct bf16 {
  uint16_t bits = 0;
  bool operator==(const bf16&) const = default;
};
bf16 to_bf16(float x);  // round to nearest even; NaN stays NaN
float to_float(bf16 x);
std::vector<bf16> to_bf16(const std::vector<float>& x);
std::vector<float> to_float(const std::vector<bf16>& x);

// Number of usable GPUs; 0 (never an error) where there is no driver or no device.
int device_count();
// "" when a GPU is usable, else why not ("no CUDA driver", "no GPU", ...).
std::string no_gpu_reason();

// Selects `device` for this thread and makes its memory pool keep freed memory (so stream-ordered
// allocation is cheap) . Call once per thread before anything else.
void use_device(int device);
Stream create_stream();
void destroy_stream(Stream s) noexcept;
void synchronize(Stream s);
// The device pool's high-water marks since the last reset: bytes in use by allocations, and
// bytes the pool reserved from the device (allocations plus the pool's fragmentation: the
// footprint, the measured peak memory of a run). reset_pool_peak first returns the memory the
// pool keeps but nobody uses, so the marks start from what is in use.
int64_t pool_peak_bytes(int device);
int64_t pool_reserved_peak_bytes(int device);
void reset_pool_peak(int device);
int64_t pool_used_bytes(int device);

// Raw stream-ordered allocation: the base of DevBuf, also used by the communicators.
void* device_alloc(int64_t bytes, Stream s);
void device_free(void* p, Stream s) noexcept;
void copy_to_device(void* dst, const void* src, int64_t bytes, Stream s);
void copy_to_host(void* dst, const void* src, int64_t bytes, Stream s);  // synchronises s
void copy_device(void* dst, const void* src, int64_t bytes, Stream s);
void zero_device(void* p, int64_t bytes, Stream s);

template <class T>
class DevBuf {
 public:
  DevBuf() = default;
  // n elements of T, ordered on `s`, charged to `category` of `tracker`; zeroed unless the
  // caller overwrites them all (`zeroed` false).
  DevBuf(MemoryTracker& tracker, MemCategory category, int64_t n, Stream s, bool zeroed = true)
      : n_(n), tracker_(&tracker), category_(category), stream_(s) {
    p_ = static_cast<T*>(device_alloc(bytes(), s));
    if (zeroed) zero_device(p_, bytes(), s);
    tracker_->allocate(category_, bytes());
  }
  DevBuf(DevBuf&& o) noexcept { swap(o); }
  DevBuf& operator=(DevBuf&& o) noexcept {
    if (this != &o) {
      reset();
      swap(o);
    }
    return *this;
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  ~DevBuf() { reset(); }

  void reset() noexcept {
    if (tracker_) tracker_->release(category_, bytes());
    if (p_) device_free(p_, stream_);
    p_ = nullptr;
    n_ = 0;
    tracker_ = nullptr;
  }
  DevBuf clone(MemCategory category) const {
    DevBuf b(*tracker_, category, n_, stream_, false);
    copy_device(b.p_, p_, bytes(), stream_);
    return b;
  }
  void zero() { zero_device(p_, bytes(), stream_); }
  void recategorize(MemCategory category) {
    if (!tracker_ || category == category_) return;
    tracker_->release(category_, bytes());
    category_ = category;
    tracker_->allocate(category_, bytes());
  }
  void upload(const std::vector<T>& host) {
    copy_to_device(p_, host.data(), static_cast<int64_t>(host.size() * sizeof(T)), stream_);
  }
  std::vector<T> download() const {
    std::vector<T> h(static_cast<size_t>(n_));
    copy_to_host(h.data(), p_, bytes(), stream_);
    return h;
  }

  T* data() { return p_; }
  const T* data() const { return p_; }
  int64_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t bytes() const { return n_ * static_cast<int64_t>(sizeof(T)); }
  Stream stream() const { return stream_; }

 private:
  void swap(DevBuf& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(tracker_, o.tracker_);
    std::swap(category_, o.category_);
    std::swap(stream_, o.stream_);
  }
  T* p_ = nullptr;
  int64_t n_ = 0;
  MemoryTracker* tracker_ = nullptr;
  MemCategory category_ = MemCategory::temporaries;
  Stream stream_ = nullptr;
};

}  // namespace shardplan::executor::cuda
