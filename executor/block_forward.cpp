// Transformer block forward (see block.hpp) and the norm helpers it shares with the head.
#include "executor/block.hpp"
#include "executor/gemm.hpp"
#include "executor/kernels.hpp"

namespace shardplan::executor {

template <class T>
void norm_forward(const Dims& d, const Unit<T>& u, int w, int b, const T* x, T* y, T* mean,
                  T* rstd, int64_t rows) {
  if (d.rmsnorm) rmsnorm_forward(x, u.param(w), y, rstd, rows, d.hidden);
  else layernorm_forward(x, u.param(w), u.param(b), y, mean, rstd, rows, d.hidden);
}

template <class T>
void norm_backward(const Dims& d, const Unit<T>& u, int w, const T* dy, const T* x, const T* mean,
                   const T* rstd, T* dx, T* dgamma, T* dbeta, int64_t rows) {
  if (d.rmsnorm) rmsnorm_backward(dy, x, u.param(w), rstd, dx, dgamma, rows, d.hidden);
  else layernorm_backward(dy, x, u.param(w), mean, rstd, dx, dgamma, dbeta, rows, d.hidden);
}

template <class T>
void apply_norm_grads(const LayerEnv& env, Unit<T>& u, int w, int b, Buffer<T>& dw, Buffer<T>& db) {
  const int64_t H = env.d.hidden;
  T* gw = u.grad(w);
  for (int64_t j = 0; j < H; ++j) gw[j] += dw[j];
  if (!env.d.rmsnorm) {
    T* gb = u.grad(b);
    for (int64_t j = 0; j < H; ++j) gb[j] += db[j];
  }
  dw.reset();
  db.reset();
}

template <class T>
Buffer<T> block_forward_into(const LayerEnv& env, Unit<T>& u, const T* x, BlockCtx<T>& ctx,
                             MemCategory cat, bool keep_probs, bool need_output, MemCategory out) {
  const Dims& d = env.d;
  MemoryTracker& mem = *env.mem;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden, F = d.ffn_local;
  const int64_t qd = d.q_local(), kvd = d.kv_local();
  const MemCategory tmp = MemCategory::temporaries;

  // Attention sub-layer.
  ctx.h1 = Buffer<T>(mem, cat, n * H);
  const int64_t n_mean = d.rmsnorm ? 0 : n;  // RMSNorm keeps only 1/rms
  ctx.mean1 = Buffer<T>(mem, cat, n_mean);
  ctx.rstd1 = Buffer<T>(mem, cat, n);
  norm_forward(d, u, kLn1W, kLn1B, x, ctx.h1.data(), ctx.mean1.data(), ctx.rstd1.data(), n);
  Buffer<T> a_full;
  if (d.sp) a_full = tp_gather(env, ctx.h1.data(), H, tmp);
  const T* a = d.sp ? a_full.data() : ctx.h1.data();
  ctx.q = Buffer<T>(mem, cat, N * qd);
  ctx.k = Buffer<T>(mem, cat, N * kvd);
  ctx.v = Buffer<T>(mem, cat, N * kvd);
  linear_forward(a, u.param(kWq), ctx.q.data(), N, H, qd);
  linear_forward(a, u.param(kWk), ctx.k.data(), N, H, kvd);
  linear_forward(a, u.param(kWv), ctx.v.data(), N, H, kvd);
  a_full.reset();
  const AttnShape shape{d.micro_batch, d.seq, d.heads_local, d.kv_heads_local, d.head_dim};
  Buffer<T> probs(mem, keep_probs ? cat : tmp, d.micro_batch * d.heads_local * d.seq * d.seq);
  ctx.o = Buffer<T>(mem, cat, N * qd);
  attention_forward(shape, ctx.q.data(), ctx.k.data(), ctx.v.data(), probs.data(), ctx.o.data());
  if (keep_probs) ctx.probs = std::move(probs);
  probs.reset();
  Buffer<T> proj(mem, tmp, N * H);
  linear_forward(ctx.o.data(), u.param(kWo), proj.data(), N, qd, H);
  proj = tp_reduce(env, std::move(proj), H, tmp);
  ctx.x2 = Buffer<T>(mem, cat, n * H);
  for (int64_t i = 0; i < n * H; ++i) ctx.x2[i] = x[i] + proj[i];
  proj.reset();

  // MLP sub-layer.
  ctx.h2 = Buffer<T>(mem, cat, n * H);
  ctx.mean2 = Buffer<T>(mem, cat, n_mean);
  ctx.rstd2 = Buffer<T>(mem, cat, n);
  norm_forward(d, u, kLn2W, kLn2B, ctx.x2.data(), ctx.h2.data(), ctx.mean2.data(),
               ctx.rstd2.data(), n);
  Buffer<T> b_full;
  if (d.sp) b_full = tp_gather(env, ctx.h2.data(), H, tmp);
  const T* b = d.sp ? b_full.data() : ctx.h2.data();
  ctx.u1 = Buffer<T>(mem, cat, N * F);
  ctx.g = Buffer<T>(mem, cat, N * F);
  linear_forward(b, u.param(kW1), ctx.u1.data(), N, H, F);
  if (d.swiglu) {
    ctx.u3 = Buffer<T>(mem, cat, N * F);
    linear_forward(b, u.param(kW3), ctx.u3.data(), N, H, F);
    swiglu_forward(ctx.u1.data(), ctx.u3.data(), ctx.g.data(), N * F);
  } else {
    gelu_forward(ctx.u1.data(), ctx.g.data(), N * F);
  }
  b_full.reset();
  ctx.complete = true;
  if (!need_output) return {};
  Buffer<T> z(mem, tmp, N * H);
  linear_forward(ctx.g.data(), u.param(kW2), z.data(), N, F, H);
  z = tp_reduce(env, std::move(z), H, tmp);
  Buffer<T> y(mem, out, n * H);
  for (int64_t i = 0; i < n * H; ++i) y[i] = ctx.x2[i] + z[i];
  return y;
}

template <class T>
Buffer<T> block_forward(const LayerEnv& env, Unit<T>& u, Buffer<T> x, BlockCtx<T>& ctx,
                        MemCategory out) {
  u.acquire(*env.dp);
  ctx.x = std::move(x);
  Buffer<T> y;
  if (env.d.recompute == Recompute::full) {
    BlockCtx<T> scratch;  // everything but x is dropped at the end of forward
    y = block_forward_into(env, u, ctx.x.data(), scratch, MemCategory::temporaries, true, true, out);
  } else {
    y = block_forward_into(env, u, ctx.x.data(), ctx, MemCategory::activations,
                           env.d.recompute == Recompute::none, true, out);
  }
  u.release();
  return y;
}

#define SHARDPLAN_INSTANTIATE(T)                                                              \
  template void norm_forward<T>(const Dims&, const Unit<T>&, int, int, const T*, T*, T*, T*,  \
                                int64_t);                                                     \
  template void norm_backward<T>(const Dims&, const Unit<T>&, int, const T*, const T*,       \
                                 const T*, const T*, T*, T*, T*, int64_t);                   \
  template void apply_norm_grads<T>(const LayerEnv&, Unit<T>&, int, int, Buffer<T>&,         \
                                    Buffer<T>&);                                              \
  template Buffer<T> block_forward_into<T>(const LayerEnv&, Unit<T>&, const T*, BlockCtx<T>&, \
                                           MemCategory, bool, bool, MemCategory);             \
  template Buffer<T> block_forward<T>(const LayerEnv&, Unit<T>&, Buffer<T>, BlockCtx<T>&,     \
                                      MemCategory);
SHARDPLAN_INSTANTIATE(float)
SHARDPLAN_INSTANTIATE(double)
#undef SHARDPLAN_INSTANTIATE

}  // namespace shardplan::executor
