// Per-rank memory accounting: every executor tensor is a Buffer<T> that charges its bytes to one
// category of its rank's MemoryTracker, so a run reports current and peak bytes per category.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

namespace shardplan::executor {

// What a buffer holds. Gathered ZeRO-3 parameters count as weights, the transient full gradient
// of ZeRO-2/3 as gradients, tensors kept from forward for backward as activations, and
// everything else (comm staging, backward intermediates, recompute scratch) as temporaries.
enum class MemCategory { weights = 0, gradients, optimizer_states, activations, temporaries };
inline constexpr int kMemCategories = 5;
const char* mem_category_name(MemCategory c);

struct RankMemory {
  int rank = 0;
  std::array<int64_t, kMemCategories> peak_bytes{};     // each category's own peak
  std::array<int64_t, kMemCategories> current_bytes{};  // when the snapshot was taken
  int64_t peak_total_bytes = 0;                         // peak of the sum, not the sum of peaks
  bool operator==(const RankMemory&) const = default;
};

// One per rank, touched only by that rank's thread (no locking).
class MemoryTracker {
 public:
  void allocate(MemCategory c, int64_t bytes);
  void release(MemCategory c, int64_t bytes);
  int64_t current_bytes(MemCategory c) const { return current_[static_cast<int>(c)]; }
  int64_t peak_bytes(MemCategory c) const { return peak_[static_cast<int>(c)]; }
  int64_t current_total_bytes() const { return current_total_; }
  int64_t peak_total_bytes() const { return peak_total_; }
  RankMemory snapshot(int rank) const;

 private:
  std::array<int64_t, kMemCategories> current_{}, peak_{};
  int64_t current_total_ = 0, peak_total_ = 0;
};

// A zero-initialised, move-only array of T charged to a tracker for its lifetime.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(MemoryTracker& tracker, MemCategory category, int64_t n)
      : p_(n > 0 ? std::make_unique<T[]>(static_cast<size_t>(n)) : nullptr),
        n_(n), tracker_(&tracker), category_(category) {
    tracker_->allocate(category_, bytes());
  }
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) { reset(); swap(o); }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  void reset() {
    if (tracker_) tracker_->release(category_, bytes());
    p_.reset();
    n_ = 0;
    tracker_ = nullptr;
  }
  // A new buffer in `category` holding a copy of this one's contents.
  Buffer clone(MemCategory category) const {
    Buffer b(*tracker_, category, n_);
    if (n_ > 0) std::memcpy(b.data(), data(), bytes());
    return b;
  }
  void zero() { if (n_ > 0) std::memset(p_.get(), 0, bytes()); }
  // Moves this buffer's bytes to another category (a tensor whose role changes, e.g. a reduced
  // sum that is kept for backward).
  void recategorize(MemCategory category) {
    if (!tracker_ || category == category_) return;
    tracker_->release(category_, bytes());
    category_ = category;
    tracker_->allocate(category_, bytes());
  }

  T* data() { return p_.get(); }
  const T* data() const { return p_.get(); }
  int64_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t bytes() const { return n_ * static_cast<int64_t>(sizeof(T)); }
  T& operator[](int64_t i) { return p_[static_cast<size_t>(i)]; }
  const T& operator[](int64_t i) const { return p_[static_cast<size_t>(i)]; }

 private:
  void swap(Buffer& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(tracker_, o.tracker_);
    std::swap(category_, o.category_);
  }
  std::unique_ptr<T[]> p_;
  int64_t n_ = 0;
  MemoryTracker* tracker_ = nullptr;
  MemCategory category_ = MemCategory::temporaries;
};

}  // namespace shardplan::executor
