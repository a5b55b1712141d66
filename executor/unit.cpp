// Unit: flat parameter storage, ZeRO sharding over DP, and the AdamW update of the owned range.
#include "executor/unit.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace shardplan::executor {

template <class T>
Unit<T>::Unit(std::vector<ParamSpec> specs, ShardCoords sh, MemoryTracker& mem, uint64_t seed,
              bool norm_counted)
    : specs_(std::move(specs)), sh_(sh), mem_(&mem), norm_counted_(norm_counted) {
  for (const auto& s : specs_) {
    offset_.push_back(numel_);
    if (s.present()) numel_ += s.local_numel(sh_.tp);
  }
  shard_ = sh_.zero == 0 ? numel_ : (numel_ + sh_.dp - 1) / sh_.dp;
  padded_ = sh_.zero == 0 ? numel_ : shard_ * sh_.dp;
  const int64_t owned = sh_.zero == 0 ? numel_ : shard_;
  params_ = Buffer<T>(mem, MemCategory::weights, sh_.zero == 3 ? shard_ : padded_);
  if (sh_.zero <= 1) grads_ = Buffer<T>(mem, MemCategory::gradients, padded_);
  else grads_ = Buffer<T>(mem, MemCategory::gradients, shard_);
  m_ = Buffer<T>(mem, MemCategory::optimizer_states, owned);
  v_ = Buffer<T>(mem, MemCategory::optimizer_states, owned);
  // ZeRO-3 initialises only its shard; the others every local element.
  const int64_t b = sh_.zero == 3 ? owned_begin() : 0, e = sh_.zero == 3 ? owned_end() : numel_;
  for_each_segment(b, e, [&](int i, int64_t lo, int64_t hi) {
    for (int64_t f = lo; f < hi; ++f) {
      int64_t r = 0, c = 0;
      global_position(specs_[i], sh_.tp_idx, sh_.tp, f - offset_[i], r, c);
      params_[f - b] = static_cast<T>(init_value(specs_[i], seed, r, c));
    }
  });
}

template <class T>
int64_t Unit<T>::owned_begin() const {
  return sh_.zero == 0 ? 0 : std::min(numel_, sh_.dp_idx * shard_);
}
template <class T>
int64_t Unit<T>::owned_end() const {
  return sh_.zero == 0 ? numel_ : std::min(numel_, (sh_.dp_idx + 1) * shard_);
}

template <class T>
template <class F>
void Unit<T>::for_each_segment(int64_t b, int64_t e, F&& fn) const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (!specs_[i].present()) continue;
    const int64_t lo = std::max(b, offset_[i]);
    const int64_t hi = std::min(e, offset_[i] + specs_[i].local_numel(sh_.tp));
    if (lo < hi) fn(static_cast<int>(i), lo, hi);
  }
}

template <class T>
void Unit<T>::acquire(Communicator& dp) {
  if (sh_.zero != 3 || acquired_++ > 0) return;
  gathered_ = Buffer<T>(*mem_, MemCategory::weights, padded_);
  dp.all_gather(params_.data(), gathered_.data(), shard_);
}

template <class T>
void Unit<T>::release() {
  if (sh_.zero != 3) return;
  if (acquired_ <= 0) throw std::logic_error("Unit::release without acquire");
  if (--acquired_ == 0) gathered_.reset();
}

template <class T>
const T* Unit<T>::param(int i) const {
  if (sh_.zero == 3 && acquired_ == 0) throw std::logic_error("Unit::param before acquire");
  return (sh_.zero == 3 ? gathered_.data() : params_.data()) + offset_[i];
}

template <class T>
void Unit<T>::begin_grads() {
  if (sh_.zero < 2 || grad_users_++ > 0) return;
  grad_full_ = Buffer<T>(*mem_, MemCategory::gradients, padded_);
}

template <class T>
T* Unit<T>::grad(int i) {
  if (sh_.zero >= 2 && grad_users_ == 0) throw std::logic_error("Unit::grad before begin_grads");
  return (sh_.zero >= 2 ? grad_full_.data() : grads_.data()) + offset_[i];
}

template <class T>
void Unit<T>::end_grads(Communicator& dp) {
  if (sh_.zero < 2 || --grad_users_ > 0) return;
  // Reduce-scatter into this rank's own chunk of the full buffer, then accumulate it.
  T* mine = grad_full_.data() + sh_.dp_idx * shard_;
  dp.reduce_scatter(grad_full_.data(), mine, shard_);
  for (int64_t i = 0; i < shard_; ++i) grads_[i] += mine[i];
  grad_full_.reset();
}

template <class T>
T* Unit<T>::owned_grads() {
  if (sh_.zero == 0) return grads_.data();
  if (sh_.zero == 1) return grads_.data() + sh_.dp_idx * shard_;
  return grads_.data();
}
template <class T>
const T* Unit<T>::owned_grads() const {
  return const_cast<Unit*>(this)->owned_grads();
}

template <class T>
void Unit<T>::reduce_grads(Communicator& dp) {
  if (sh_.zero == 0) {
    dp.all_reduce(grads_.data(), numel_);
  } else if (sh_.zero == 1) {
    // In place into this rank's chunk of the full buffer, as Megatron's distributed optimizer
    // and DeepSpeed ZeRO-1 do: no second gradient buffer.
    dp.reduce_scatter(grads_.data(), grads_.data() + sh_.dp_idx * shard_, shard_);
  }
}

template <class T>
void Unit<T>::all_reduce_grads(Communicator& group) {
  group.all_reduce(owned_grads(), sh_.zero == 0 ? numel_ : shard_);
}

template <class T>
void Unit<T>::all_reduce_replicated_grads(Communicator& tp) {
  // Every TP rank has the same flat layout, so the same owned segments (ZeRO shards included).
  T* owned = owned_grads();
  for_each_segment(owned_begin(), owned_end(), [&](int i, int64_t lo, int64_t hi) {
    if (specs_[i].split == TpSplit::replicated) tp.all_reduce(owned + (lo - owned_begin()), hi - lo);
  });
}

// Counts each gradient element once across the world: TP-replicated slots on TP rank 0 only,
// ZeRO-0 (DP-replicated after the all-reduce) on DP rank 0 only, tied copies never.
template <class T>
double Unit<T>::grad_sumsq() const {
  if (!norm_counted_ || (sh_.zero == 0 && sh_.dp_idx != 0)) return 0;
  const int64_t ob = owned_begin();
  const T* g = owned_grads();  // g[f - ob] is flat element f
  double s = 0;
  for_each_segment(ob, owned_end(), [&](int i, int64_t lo, int64_t hi) {
    if (specs_[i].split == TpSplit::replicated && sh_.tp_idx != 0) return;
    for (int64_t f = lo - ob; f < hi - ob; ++f) s += static_cast<double>(g[f]) * static_cast<double>(g[f]);
  });
  return s;
}

template <class T>
void Unit<T>::adamw(const AdamWConfig& cfg, int64_t step, double clip_scale) {
  // p, g, m, v: element [f - ob] is flat element f of the owned range.
  const int64_t ob = owned_begin();
  T* p = params_.data() + (sh_.zero == 3 ? 0 : ob);
  const T* g = owned_grads();
  T* m = m_.data();
  T* v = v_.data();
  const T b1 = T(cfg.beta1), b2 = T(cfg.beta2), lr = T(cfg.lr), eps = T(cfg.eps);
  const T c1 = T(1.0 - std::pow(cfg.beta1, double(step)));
  const T c2 = T(1.0 - std::pow(cfg.beta2, double(step)));
  const T clip = T(clip_scale);
  for_each_segment(ob, owned_end(), [&](int i, int64_t lo, int64_t hi) {
    const T decay = specs_[i].weight_decay ? T(1.0 - cfg.lr * cfg.weight_decay) : T(1);
    for (int64_t f = lo - ob; f < hi - ob; ++f) {
      const T gf = g[f] * clip;
      m[f] = b1 * m[f] + (T(1) - b1) * gf;
      v[f] = b2 * v[f] + (T(1) - b2) * gf * gf;
      p[f] = p[f] * decay - lr * (m[f] / c1) / (std::sqrt(v[f] / c2) + eps);
    }
  });
}

template <class T>
void Unit<T>::finish_step(Communicator& dp) {
  if (sh_.zero == 1 || sh_.zero == 2)  // in place: this rank's chunk is already current
    dp.all_gather(params_.data() + sh_.dp_idx * shard_, params_.data(), shard_);
  grads_.zero();
}

template <class T>
std::vector<Buffer<T>*> Unit<T>::state() {
  return {&params_, &m_, &v_};
}

template <class T>
void Unit<T>::export_params(Communicator& dp, ParamStore<T>& out) {
  acquire(dp);
  if (sh_.dp_idx == 0 && norm_counted_) {
    std::lock_guard<std::mutex> lock(out.mu);
    for (size_t i = 0; i < specs_.size(); ++i) {
      const ParamSpec& s = specs_[i];
      if (!s.present()) continue;
      auto& full = out.tensors[s.name];
      full.resize(static_cast<size_t>(s.rows * s.cols));
      const T* src = param(static_cast<int>(i));
      for (int64_t f = 0; f < s.local_numel(sh_.tp); ++f) {
        int64_t r = 0, c = 0;
        global_position(s, sh_.tp_idx, sh_.tp, f, r, c);
        full[static_cast<size_t>(r * s.cols + c)] = src[f];
      }
    }
  }
  release();
}

template class Unit<float>;
template class Unit<double>;

}  // namespace shardplan::executor
