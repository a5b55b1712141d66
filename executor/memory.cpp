// MemoryTracker: current and peak bytes per category for one rank.
#include "executor/memory.hpp"

namespace shardplan::executor {

const char* mem_category_name(MemCategory c) {
  static const char* names[] = {"weights", "gradients", "optimizer_states", "activations",
                                "temporaries"};
  return names[static_cast<int>(c)];
}

void MemoryTracker::allocate(MemCategory c, int64_t bytes) {
  const int i = static_cast<int>(c);
  current_[i] += bytes;
  current_total_ += bytes;
  if (current_[i] > peak_[i]) peak_[i] = current_[i];
  if (current_total_ > peak_total_) peak_total_ = current_total_;
}

void MemoryTracker::release(MemCategory c, int64_t bytes) {
  current_[static_cast<int>(c)] -= bytes;
  current_total_ -= bytes;
}

RankMemory MemoryTracker::snapshot(int rank) const {
  RankMemory m;
  m.rank = rank;
  m.peak_bytes = peak_;
  m.current_bytes = current_;
  m.peak_total_bytes = peak_total_;
  return m;
}

}  // namespace shardplan::executor
