// DUnit: the CPU Unit's flat layout and ZeRO sharding (executor/unit.cpp) with bf16 working
// parameters, float master weights (counted as optimizer state, as the memory model does), and
// initial values computed on the device from the same counter-based hash.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "executor/cuda/kernels.hpp"
#include "executor/cuda/model.hpp"

namespace shardplan::executor::cuda {

DUnit::DUnit(std::vector<ParamSpec> specs, ShardCoords sh, const CudaEnv& env, uint64_t seed,
             bool norm_counted)
    : specs_(std::move(specs)), sh_(sh), env_(env), norm_counted_(norm_counted) {
  for (const auto& s : specs_) {
    offset_.push_back(numel_);
    if (s.present()) numel_ += s.local_numel(sh_.tp);
  }
  shard_ = sh_.zero == 0 ? numel_ : (numel_ + sh_.dp - 1) / sh_.dp;
  padded_ = sh_.zero == 0 ? numel_ : shard_ * sh_.dp;
  const int64_t owned = sh_.zero == 0 ? numel_ : shard_;
  params_ = env.buf<bf16>(MemCategory::weights, sh_.zero == 3 ? shard_ : padded_, true);
  grads_ = env.buf<float>(MemCategory::gradients, sh_.zero <= 1 ? padded_ : shard_, true);
  master_ = env.buf<float>(MemCategory::optimizer_states, owned, true);
  m_ = env.buf<float>(MemCategory::optimizer_states, owned, true);
  v_ = env.buf<float>(MemCategory::optimizer_states, owned, true);
  // Initial values of the range this rank stores parameters for, then the bf16 copy and the
  // owned range's master weights from them.
  const int64_t b = sh_.zero == 3 ? owned_begin() : 0, e = sh_.zero == 3 ? owned_end() : numel_;
  DevBuf<float> init = env.buf<float>(MemCategory::temporaries, e - b);
  for_each_segment(b, e, [&](int i, int64_t lo, int64_t hi) {
    const ParamSpec& p = specs_[i];
    InitSlot slot;
    slot.mode = p.init == ParamInit::normal ? 0 : p.init == ParamInit::ones ? 1 : 2;
    slot.base = hash64(seed ^ hash64(hash_string(p.init_name)));
    slot.std = p.init_std;
    slot.cols = p.cols;
    slot.local_cols = p.local_cols(sh_.tp);
    slot.row_offset = p.split == TpSplit::rows ? sh_.tp_idx * p.local_rows(sh_.tp) : 0;
    slot.col_offset = p.split == TpSplit::cols ? sh_.tp_idx * slot.local_cols : 0;
    init_slot(slot, lo - offset_[i], hi - lo, init.data() + (lo - b), env.stream);
  });
  f32_to_bf16(init.data(), params_.data(), e - b, env.stream);
  copy_device(master_.data(), init.data() + (owned_begin() - b),
              (owned_end() - owned_begin()) * int64_t(sizeof(float)), env.stream);
}

int64_t DUnit::owned_begin() const {
  return sh_.zero == 0 ? 0 : std::min(numel_, sh_.dp_idx * shard_);
}
int64_t DUnit::owned_end() const {
  return sh_.zero == 0 ? numel_ : std::min(numel_, (sh_.dp_idx + 1) * shard_);
}

template <class F>
void DUnit::for_each_segment(int64_t b, int64_t e, F&& fn) const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (!specs_[i].present()) continue;
    const int64_t lo = std::max(b, offset_[i]);
    const int64_t hi = std::min(e, offset_[i] + specs_[i].local_numel(sh_.tp));
    if (lo < hi) fn(static_cast<int>(i), lo, hi);
  }
}

void DUnit::acquire(DeviceComm& dp) {
  if (sh_.zero != 3 || acquired_++ > 0) return;
  gathered_ = env_.buf<bf16>(MemCategory::weights, padded_);
  dp.all_gather(params_.data(), gathered_.data(), shard_);
}

void DUnit::release() {
  if (sh_.zero != 3) return;
  if (acquired_ <= 0) throw std::logic_error("DUnit::release without acquire");
  if (--acquired_ == 0) gathered_.reset();
}

const bf16* DUnit::param(int i) const {
  if (sh_.zero == 3 && acquired_ == 0) throw std::logic_error("DUnit::param before acquire");
  return (sh_.zero == 3 ? gathered_.data() : params_.data()) + offset_[i];
}

void DUnit::begin_grads() {
  if (sh_.zero < 2 || grad_users_++ > 0) return;
  grad_full_ = env_.buf<float>(MemCategory::gradients, padded_, true);
}

float* DUnit::grad(int i) {
  if (sh_.zero >= 2 && grad_users_ == 0) throw std::logic_error("DUnit::grad before begin_grads");
  return (sh_.zero >= 2 ? grad_full_.data() : grads_.data()) + offset_[i];
}

void DUnit::end_grads(DeviceComm& dp) {
  if (sh_.zero < 2 || --grad_users_ > 0) return;
  float* mine = grad_full_.data() + sh_.dp_idx * shard_;
  dp.reduce_scatter(grad_full_.data(), mine, shard_);
  add_f32(grads_.data(), mine, shard_, env_.stream);
  grad_full_.reset();
}

float* DUnit::owned_grads() {
  if (sh_.zero == 0) return grads_.data();
  if (sh_.zero == 1) return grads_.data() + sh_.dp_idx * shard_;  // reduced in place, as the CPU backend
  return grads_.data();
}

void DUnit::reduce_grads(DeviceComm& dp) {
  if (sh_.zero == 0) {
    dp.all_reduce(grads_.data(), numel_);
  } else if (sh_.zero == 1) {
    // In place into this rank's chunk of the padded buffer (no second gradient buffer: the memory
    // model and the CPU backend's Unit::reduce_grads count none).
    dp.reduce_scatter(grads_.data(), grads_.data() + sh_.dp_idx * shard_, shard_);
  }
}

void DUnit::all_reduce_grads(DeviceComm& group) {
  group.all_reduce(owned_grads(), sh_.zero == 0 ? numel_ : shard_);
}

void DUnit::grad_sumsq(double* acc) const {
  if (!norm_counted_ || (sh_.zero == 0 && sh_.dp_idx != 0)) return;
  const int64_t ob = owned_begin();
  const float* g = const_cast<DUnit*>(this)->owned_grads();
  for_each_segment(ob, owned_end(), [&](int i, int64_t lo, int64_t hi) {
    if (specs_[i].split == TpSplit::replicated && sh_.tp_idx != 0) return;
    sum_squares(g + (lo - ob), hi - lo, acc, env_.stream);
  });
}

void DUnit::adamw(const AdamWConfig& cfg, int64_t step, double clip_scale) {
  const int64_t ob = owned_begin();
  bf16* p = params_.data() + (sh_.zero == 3 ? 0 : ob);  // p[f - ob] is flat element f
  float* g = owned_grads();
  AdamWStep c;
  c.lr = float(cfg.lr);
  c.beta1 = float(cfg.beta1);
  c.beta2 = float(cfg.beta2);
  c.eps = float(cfg.eps);
  c.c1 = float(1.0 - std::pow(cfg.beta1, double(step)));
  c.c2 = float(1.0 - std::pow(cfg.beta2, double(step)));
  c.clip = float(clip_scale);
  for_each_segment(ob, owned_end(), [&](int i, int64_t lo, int64_t hi) {
    c.decay = specs_[i].weight_decay ? float(1.0 - cfg.lr * cfg.weight_decay) : 1.f;
    const int64_t f = lo - ob;
    adamw_update(master_.data() + f, g + f, m_.data() + f, v_.data() + f, p + f, hi - lo, c,
                 env_.stream);
  });
}

void DUnit::finish_step(DeviceComm& dp) {
  if (sh_.zero == 1 || sh_.zero == 2)  // in place: this rank's chunk is already current
    dp.all_gather(params_.data() + sh_.dp_idx * shard_, params_.data(), shard_);
  grads_.zero();
}

void DUnit::export_params(DeviceComm& dp, ParamStore<float>& out) {
  acquire(dp);
  if (sh_.dp_idx == 0 && norm_counted_) {
    for (size_t i = 0; i < specs_.size(); ++i) {
      const ParamSpec& s = specs_[i];
      if (!s.present()) continue;
      const int64_t n = s.local_numel(sh_.tp);
      std::vector<bf16> local(static_cast<size_t>(n));
      copy_to_host(local.data(), param(static_cast<int>(i)), n * int64_t(sizeof(bf16)),
                   env_.stream);
      std::lock_guard<std::mutex> lock(out.mu);
      auto& full = out.tensors[s.name];
      full.resize(static_cast<size_t>(s.rows * s.cols));
      for (int64_t f = 0; f < n; ++f) {
        int64_t r = 0, c = 0;
        global_position(s, sh_.tp_idx, sh_.tp, f, r, c);
        full[static_cast<size_t>(r * s.cols + c)] = to_float(local[static_cast<size_t>(f)]);
      }
    }
  }
  release();
}

}  // namespace shardplan::executor::cuda
