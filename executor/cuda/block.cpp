// The transformer block on the GPU (executor/block_forward.cpp and block_backward.cpp, same
// structure and communication), the norm helpers and the TP/SP collectives.
#include "executor/cuda/attention.hpp"
#include "executor/cuda/kernels.hpp"
#include "executor/cuda/model.hpp"

namespace shardplan::executor::cuda {

namespace {
constexpr MemCategory kTmp = MemCategory::temporaries;
AttnShape attn_shape(const Dims& d) {
  return {d.micro_batch, d.seq, d.heads_local, d.kv_heads_local, d.head_dim};
}
}  // namespace

template <class T>
DevBuf<T> tp_gather(const CudaEnv& env, const T* x, int64_t cols, MemCategory category) {
  DevBuf<T> out = env.buf<T>(category, env.d.tokens * cols);
  env.tp->all_gather(x, out.data(), env.d.tokens_local * cols);
  return out;
}
template DevBuf<bf16> tp_gather(const CudaEnv&, const bf16*, int64_t, MemCategory);
template DevBuf<float> tp_gather(const CudaEnv&, const float*, int64_t, MemCategory);

DevBuf<float> tp_reduce(const CudaEnv& env, DevBuf<float> partial, int64_t cols,
                        MemCategory category) {
  if (!env.d.sp) {
    env.tp->all_reduce(partial.data(), partial.size());
    partial.recategorize(category);
    return partial;
  }
  DevBuf<float> out = env.buf<float>(category, env.d.tokens_local * cols);
  env.tp->reduce_scatter(partial.data(), out.data(), env.d.tokens_local * cols);
  return out;
}

DevBuf<bf16> gathered_bf16(const CudaEnv& env, const DevBuf<float>& x, int64_t cols) {
  DevBuf<float> full;
  if (env.d.sp) full = tp_gather(env, x.data(), cols, kTmp);
  const DevBuf<float>& src = env.d.sp ? full : x;
  DevBuf<bf16> out = env.buf<bf16>(kTmp, src.size());
  f32_to_bf16(src.data(), out.data(), src.size(), env.stream);
  return out;
}

void norm_forward(const CudaEnv& env, const DUnit& u, int w, int b, const bf16* x, bf16* y,
                  float* mean, float* rstd, int64_t rows) {
  if (env.d.rmsnorm)
    rmsnorm_forward(x, u.param(w), y, rstd, rows, env.d.hidden, env.stream);
  else
    layernorm_forward(x, u.param(w), u.param(b), y, mean, rstd, rows, env.d.hidden, env.stream);
}

void norm_backward(const CudaEnv& env, const DUnit& u, int w, const float* dy, const bf16* x,
                   const float* mean, const float* rstd, float* dx, float* dgamma, float* dbeta,
                   int64_t rows) {
  if (env.d.rmsnorm)
    rmsnorm_backward(dy, x, u.param(w), rstd, dx, dgamma, rows, env.d.hidden, env.stream);
  else
    layernorm_backward(dy, x, u.param(w), mean, rstd, dx, dgamma, dbeta, rows, env.d.hidden,
                       env.stream);
}

void apply_norm_grads(const CudaEnv& env, DUnit& u, int w, int b, DevBuf<float>& dw,
                      DevBuf<float>& db) {
  const int64_t H = env.d.hidden;
  if (env.d.sp) {  // each TP rank saw only its tokens
    env.tp->all_reduce(dw.data(), H);
    if (!env.d.rmsnorm) env.tp->all_reduce(db.data(), H);
  }
  add_f32(u.grad(w), dw.data(), H, env.stream);
  if (!env.d.rmsnorm) add_f32(u.grad(b), db.data(), H, env.stream);
  dw.reset();
  db.reset();
}

namespace {

DevBuf<bf16> block_forward_into(const CudaEnv& env, DUnit& u, const bf16* x, DBlockCtx& ctx,
                                MemCategory cat, bool keep_probs, bool need_output) {
  const Dims& d = env.d;
  const Stream s = env.stream;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden, F = d.ffn_local;
  const int64_t qd = d.q_local(), kvd = d.kv_local();
  Blas& bl = *env.blas;

  // Attention sub-layer.
  ctx.h1 = env.buf<bf16>(cat, n * H);
  ctx.mean1 = env.buf<float>(cat, n);
  ctx.rstd1 = env.buf<float>(cat, n);
  norm_forward(env, u, kLn1W, kLn1B, x, ctx.h1.data(), ctx.mean1.data(), ctx.rstd1.data(), n);
  DevBuf<bf16> a_full;
  if (d.sp) a_full = tp_gather(env, ctx.h1.data(), H, kTmp);
  const bf16* a = d.sp ? a_full.data() : ctx.h1.data();
  ctx.q = env.buf<bf16>(cat, N * qd);
  ctx.k = env.buf<bf16>(cat, N * kvd);
  ctx.v = env.buf<bf16>(cat, N * kvd);
  linear_forward(bl, a, u.param(kWq), ctx.q.data(), N, H, qd);
  linear_forward(bl, a, u.param(kWk), ctx.k.data(), N, H, kvd);
  linear_forward(bl, a, u.param(kWv), ctx.v.data(), N, H, kvd);
  a_full.reset();
  ctx.o = env.buf<bf16>(cat, N * qd);
  if (env.flash) {
    ctx.lse = env.buf<float>(cat, d.micro_batch * d.heads_local * d.seq);
    flash_attention_forward(attn_shape(d), ctx.q.data(), ctx.k.data(), ctx.v.data(), ctx.o.data(),
                            ctx.lse.data(), s);
  } else {
    DevBuf<bf16> probs =
        env.buf<bf16>(keep_probs ? cat : kTmp, d.micro_batch * d.heads_local * d.seq * d.seq);
    unfused_attention_forward(bl, *env.mem, attn_shape(d), ctx.q.data(), ctx.k.data(), ctx.v.data(),
                              probs.data(), ctx.o.data());
    if (keep_probs) ctx.probs = std::move(probs);
  }
  DevBuf<float> proj = env.buf<float>(kTmp, N * H);
  linear_forward(bl, ctx.o.data(), u.param(kWo), proj.data(), N, qd, H);
  proj = tp_reduce(env, std::move(proj), H, kTmp);
  ctx.x2 = env.buf<bf16>(cat, n * H);
  residual_add(x, proj.data(), ctx.x2.data(), n * H, s);
  proj.reset();

  // MLP sub-layer.
  ctx.h2 = env.buf<bf16>(cat, n * H);
  ctx.mean2 = env.buf<float>(cat, n);
  ctx.rstd2 = env.buf<float>(cat, n);
  norm_forward(env, u, kLn2W, kLn2B, ctx.x2.data(), ctx.h2.data(), ctx.mean2.data(),
               ctx.rstd2.data(), n);
  DevBuf<bf16> b_full;
  if (d.sp) b_full = tp_gather(env, ctx.h2.data(), H, kTmp);
  const bf16* b = d.sp ? b_full.data() : ctx.h2.data();
  ctx.u1 = env.buf<bf16>(cat, N * F);
  ctx.g = env.buf<bf16>(cat, N * F);
  linear_forward(bl, b, u.param(kW1), ctx.u1.data(), N, H, F);
  if (d.swiglu) {
    ctx.u3 = env.buf<bf16>(cat, N * F);
    linear_forward(bl, b, u.param(kW3), ctx.u3.data(), N, H, F);
    swiglu_forward(ctx.u1.data(), ctx.u3.data(), ctx.g.data(), N * F, s);
  } else {
    gelu_forward(ctx.u1.data(), ctx.g.data(), N * F, s);
  }
  b_full.reset();
  ctx.complete = true;
  if (!need_output) return {};
  DevBuf<float> z = env.buf<float>(kTmp, N * H);
  linear_forward(bl, ctx.g.data(), u.param(kW2), z.data(), N, F, H);
  z = tp_reduce(env, std::move(z), H, kTmp);
  DevBuf<bf16> y = env.buf<bf16>(MemCategory::activations, n * H);
  residual_add(ctx.x2.data(), z.data(), y.data(), n * H, s);
  return y;
}

void mlp_weight_grads(const CudaEnv& env, DUnit& u, const DBlockCtx& ctx, const bf16* dz,
                      const bf16* du1, const bf16* du3, const bf16* b) {
  const Dims& d = env.d;
  const int64_t N = d.tokens, H = d.hidden, F = d.ffn_local;
  Blas& bl = *env.blas;
  linear_backward_weight(bl, ctx.g.data(), dz, u.grad(kW2), N, F, H);
  linear_backward_weight(bl, b, du1, u.grad(kW1), N, H, F);
  if (d.swiglu) linear_backward_weight(bl, b, du3, u.grad(kW3), N, H, F);
}

void attn_weight_grads(const CudaEnv& env, DUnit& u, const DBlockCtx& ctx, const bf16* dp,
                       const bf16* dq, const bf16* dk, const bf16* dv, const bf16* a) {
  const Dims& d = env.d;
  const int64_t N = d.tokens, H = d.hidden, qd = d.q_local(), kvd = d.kv_local();
  Blas& bl = *env.blas;
  linear_backward_weight(bl, ctx.o.data(), dp, u.grad(kWo), N, qd, H);
  linear_backward_weight(bl, a, dq, u.grad(kWq), N, H, qd);
  linear_backward_weight(bl, a, dk, u.grad(kWk), N, H, kvd);
  linear_backward_weight(bl, a, dv, u.grad(kWv), N, H, kvd);
}

// MLP half: dy [n, H] (the block output grad) -> dx2 [n, H].
DevBuf<float> mlp_backward(const CudaEnv& env, DUnit& u, DBlockCtx& ctx, DevBuf<float> dy) {
  const Dims& d = env.d;
  const Stream s = env.stream;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden, F = d.ffn_local;
  const bool split = env.split_weight_grads;
  Blas& bl = *env.blas;
  DevBuf<bf16> dz = gathered_bf16(env, dy, H);  // grad of the MLP output before the reduce [N, H]

  DevBuf<bf16> dg = env.buf<bf16>(kTmp, N * F), du1 = env.buf<bf16>(kTmp, N * F), du3;
  linear_backward_input(bl, dz.data(), u.param(kW2), dg.data(), N, F, H);
  if (d.swiglu) {
    du3 = env.buf<bf16>(kTmp, N * F);
    swiglu_backward(dg.data(), ctx.u1.data(), ctx.u3.data(), du1.data(), du3.data(), N * F, s);
  } else {
    gelu_backward(dg.data(), ctx.u1.data(), du1.data(), N * F, s);
  }
  dg.reset();
  DevBuf<bf16> b_full;
  if (d.sp) b_full = tp_gather(env, ctx.h2.data(), H, kTmp);
  const bf16* b = d.sp ? b_full.data() : ctx.h2.data();
  if (!split) mlp_weight_grads(env, u, ctx, dz.data(), du1.data(), du3.data(), b);

  DevBuf<float> db = env.buf<float>(kTmp, N * H);
  linear_backward_input(bl, du1.data(), u.param(kW1), db.data(), N, H, F, false);
  if (d.swiglu) linear_backward_input(bl, du3.data(), u.param(kW3), db.data(), N, H, F, true);
  if (split) {
    ctx.d_mlp_out = std::move(dz);
    ctx.du1 = std::move(du1);
    ctx.du3 = std::move(du3);
    ctx.b_full = std::move(b_full);
  } else {
    dz.reset(), du1.reset(), du3.reset(), b_full.reset();
    ctx.u1.reset(), ctx.u3.reset(), ctx.g.reset();
  }
  DevBuf<float> dh2 = tp_reduce(env, std::move(db), H, kTmp);
  ctx.dln2w = env.buf<float>(kTmp, H, true);
  ctx.dln2b = env.buf<float>(kTmp, H, true);
  DevBuf<float> dx2 = std::move(dy);  // residual: dx2 = dy + norm2'(dh2)
  norm_backward(env, u, kLn2W, dh2.data(), ctx.x2.data(), ctx.mean2.data(), ctx.rstd2.data(),
                dx2.data(), ctx.dln2w.data(), ctx.dln2b.data(), n);
  if (!split) {
    apply_norm_grads(env, u, kLn2W, kLn2B, ctx.dln2w, ctx.dln2b);
    ctx.x2.reset(), ctx.h2.reset(), ctx.mean2.reset(), ctx.rstd2.reset();
  }
  return dx2;
}

// Attention half: dx2 [n, H] -> dx [n, H].
DevBuf<float> attn_backward(const CudaEnv& env, DUnit& u, DBlockCtx& ctx, DevBuf<float> dx2) {
  const Dims& d = env.d;
  const Stream s = env.stream;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden;
  const int64_t qd = d.q_local(), kvd = d.kv_local();
  const bool split = env.split_weight_grads;
  Blas& bl = *env.blas;
  DevBuf<bf16> dp = gathered_bf16(env, dx2, H);  // grad of the projection output [N, H]

  DevBuf<bf16> dout = env.buf<bf16>(kTmp, N * qd);
  linear_backward_input(bl, dp.data(), u.param(kWo), dout.data(), N, qd, H);
  DevBuf<bf16> dq = env.buf<bf16>(kTmp, N * qd), dk = env.buf<bf16>(kTmp, N * kvd),
               dv = env.buf<bf16>(kTmp, N * kvd);
  if (env.flash) {
    flash_attention_backward(attn_shape(d), ctx.q.data(), ctx.k.data(), ctx.v.data(), ctx.o.data(),
                             dout.data(), ctx.lse.data(), dq.data(), dk.data(), dv.data(), s);
  } else {
    DevBuf<bf16> probs;
    if (ctx.probs.empty()) {  // selective recompute: rebuild the softmax from q and k
      probs = env.buf<bf16>(kTmp, d.micro_batch * d.heads_local * d.seq * d.seq);
      attention_probs(bl, *env.mem, attn_shape(d), ctx.q.data(), ctx.k.data(), probs.data());
    }
    unfused_attention_backward(bl, *env.mem, attn_shape(d), ctx.q.data(), ctx.k.data(),
                               ctx.v.data(), ctx.probs.empty() ? probs.data() : ctx.probs.data(),
                               dout.data(), dq.data(), dk.data(), dv.data());
  }
  dout.reset();
  DevBuf<bf16> a_full;
  if (d.sp) a_full = tp_gather(env, ctx.h1.data(), H, kTmp);
  const bf16* a = d.sp ? a_full.data() : ctx.h1.data();
  if (!split) attn_weight_grads(env, u, ctx, dp.data(), dq.data(), dk.data(), dv.data(), a);

  DevBuf<float> da = env.buf<float>(kTmp, N * H);
  linear_backward_input(bl, dq.data(), u.param(kWq), da.data(), N, H, qd, false);
  linear_backward_input(bl, dk.data(), u.param(kWk), da.data(), N, H, kvd, true);
  linear_backward_input(bl, dv.data(), u.param(kWv), da.data(), N, H, kvd, true);
  if (split) {
    ctx.d_attn_out = std::move(dp);
    ctx.dq = std::move(dq), ctx.dk = std::move(dk), ctx.dv = std::move(dv);
    ctx.a_full = std::move(a_full);
  } else {
    dp.reset(), dq.reset(), dk.reset(), dv.reset(), a_full.reset();
    ctx.q.reset(), ctx.k.reset(), ctx.v.reset(), ctx.lse.reset(), ctx.probs.reset(), ctx.o.reset();
  }
  DevBuf<float> dh1 = tp_reduce(env, std::move(da), H, kTmp);
  ctx.dln1w = env.buf<float>(kTmp, H, true);
  ctx.dln1b = env.buf<float>(kTmp, H, true);
  DevBuf<float> dx = std::move(dx2);  // residual: dx = dx2 + norm1'(dh1)
  norm_backward(env, u, kLn1W, dh1.data(), ctx.x.data(), ctx.mean1.data(), ctx.rstd1.data(),
                dx.data(), ctx.dln1w.data(), ctx.dln1b.data(), n);
  if (!split) apply_norm_grads(env, u, kLn1W, kLn1B, ctx.dln1w, ctx.dln1b);
  return dx;
}

}  // namespace

DevBuf<bf16> block_forward(const CudaEnv& env, DUnit& u, DevBuf<bf16> x, DBlockCtx& ctx) {
  u.acquire(*env.dp);
  ctx.x = std::move(x);
  DevBuf<bf16> y;
  if (env.d.recompute == Recompute::full) {
    DBlockCtx scratch;  // everything but x is dropped at the end of forward
    y = block_forward_into(env, u, ctx.x.data(), scratch, kTmp, true, true);
  } else {
    y = block_forward_into(env, u, ctx.x.data(), ctx, MemCategory::activations,
                           env.d.recompute == Recompute::none, true);
  }
  u.release();
  return y;
}

DevBuf<float> block_backward(const CudaEnv& env, DUnit& u, DBlockCtx& ctx, DevBuf<float> dy) {
  u.acquire(*env.dp);
  if (!ctx.complete)  // full recompute: rebuild the intermediates (communication included)
    block_forward_into(env, u, ctx.x.data(), ctx, MemCategory::activations, true, false);
  if (!env.split_weight_grads) u.begin_grads();
  DevBuf<float> dx2 = mlp_backward(env, u, ctx, std::move(dy));
  DevBuf<float> dx = attn_backward(env, u, ctx, std::move(dx2));
  if (!env.split_weight_grads) {
    u.end_grads(*env.dp);
    ctx = DBlockCtx();
  }
  u.release();
  return dx;
}

void block_weight_grads(const CudaEnv& env, DUnit& u, DBlockCtx& ctx) {
  const bool sp = env.d.sp;
  u.begin_grads();
  mlp_weight_grads(env, u, ctx, ctx.d_mlp_out.data(), ctx.du1.data(), ctx.du3.data(),
                   sp ? ctx.b_full.data() : ctx.h2.data());
  apply_norm_grads(env, u, kLn2W, kLn2B, ctx.dln2w, ctx.dln2b);
  attn_weight_grads(env, u, ctx, ctx.d_attn_out.data(), ctx.dq.data(), ctx.dk.data(), ctx.dv.data(),
                    sp ? ctx.a_full.data() : ctx.h1.data());
  apply_norm_grads(env, u, kLn1W, kLn1B, ctx.dln1w, ctx.dln1b);
  u.end_grads(*env.dp);
  ctx = DBlockCtx();
}

}  // namespace shardplan::executor::cuda
