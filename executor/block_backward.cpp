// Transformer block backward (see block.hpp). Each sub-layer computes its input gradient; its
// weight gradients are added right away, or (zero-bubble split) the inputs they need are kept in
// the context for block_weight_grads.
#include "executor/block.hpp"
#include "executor/gemm.hpp"
#include "executor/kernels.hpp"

namespace shardplan::executor {

namespace {

template <class T>
void mlp_weight_grads(const LayerEnv& env, Unit<T>& u, const BlockCtx<T>& ctx, const T* dz,
                      const T* du1, const T* du3, const T* b) {
  const Dims& d = env.d;
  const int64_t N = d.tokens, H = d.hidden, F = d.ffn_local;
  linear_backward_weight(ctx.g.data(), dz, u.grad(kW2), N, F, H);
  linear_backward_weight(b, du1, u.grad(kW1), N, H, F);
  if (d.swiglu) linear_backward_weight(b, du3, u.grad(kW3), N, H, F);
}

template <class T>
void attn_weight_grads(const LayerEnv& env, Unit<T>& u, const BlockCtx<T>& ctx, const T* dp,
                       const T* dq, const T* dk, const T* dv, const T* a) {
  const Dims& d = env.d;
  const int64_t N = d.tokens, H = d.hidden, qd = d.q_local(), kvd = d.kv_local();
  linear_backward_weight(ctx.o.data(), dp, u.grad(kWo), N, qd, H);
  linear_backward_weight(a, dq, u.grad(kWq), N, H, qd);
  linear_backward_weight(a, dk, u.grad(kWk), N, H, kvd);
  linear_backward_weight(a, dv, u.grad(kWv), N, H, kvd);
}

// MLP half: dy [n, H] (the block output grad) -> dx2 [n, H].
template <class T>
Buffer<T> mlp_backward(const LayerEnv& env, Unit<T>& u, BlockCtx<T>& ctx, Buffer<T> dy) {
  const Dims& d = env.d;
  MemoryTracker& mem = *env.mem;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden, F = d.ffn_local;
  const MemCategory tmp = MemCategory::temporaries;
  const bool split = env.split_weight_grads;
  Buffer<T> dz_full;  // grad of the MLP output before the reduce: [N, H]
  if (d.sp) dz_full = tp_gather(env, dy.data(), H, tmp);
  else if (split) dz_full = dy.clone(tmp);
  const T* dz = (d.sp || split) ? dz_full.data() : dy.data();

  Buffer<T> dg(mem, tmp, N * F), du1(mem, tmp, N * F), du3;
  linear_backward_input(dz, u.param(kW2), dg.data(), N, F, H, false);
  if (d.swiglu) {
    du3 = Buffer<T>(mem, tmp, N * F);
    swiglu_backward(dg.data(), ctx.u1.data(), ctx.u3.data(), du1.data(), du3.data(), N * F);
  } else {
    gelu_backward(dg.data(), ctx.u1.data(), du1.data(), N * F);
  }
  dg.reset();
  Buffer<T> b_full;
  if (d.sp) b_full = tp_gather(env, ctx.h2.data(), H, tmp);
  const T* b = d.sp ? b_full.data() : ctx.h2.data();
  if (!split) mlp_weight_grads(env, u, ctx, dz, du1.data(), du3.data(), b);

  Buffer<T> db(mem, tmp, N * H);
  linear_backward_input(du1.data(), u.param(kW1), db.data(), N, H, F, false);
  if (d.swiglu) linear_backward_input(du3.data(), u.param(kW3), db.data(), N, H, F, true);
  if (split) {
    ctx.d_mlp_out = std::move(dz_full);
    ctx.du1 = std::move(du1);
    ctx.du3 = std::move(du3);
    ctx.b_full = std::move(b_full);
  } else {
    dz_full.reset(), du1.reset(), du3.reset(), b_full.reset();
    ctx.u1.reset(), ctx.u3.reset(), ctx.g.reset();
  }
  Buffer<T> dh2 = tp_reduce(env, std::move(db), H, tmp);
  ctx.dln2w = Buffer<T>(mem, tmp, H);
  ctx.dln2b = Buffer<T>(mem, tmp, d.rmsnorm ? 0 : H);
  Buffer<T> dx2 = std::move(dy);  // residual: dx2 = dy + norm2'(dh2)
  norm_backward(d, u, kLn2W, dh2.data(), ctx.x2.data(), ctx.mean2.data(), ctx.rstd2.data(),
                dx2.data(), ctx.dln2w.data(), ctx.dln2b.data(), n);
  if (!split) {
    apply_norm_grads(env, u, kLn2W, kLn2B, ctx.dln2w, ctx.dln2b);
    ctx.x2.reset(), ctx.h2.reset(), ctx.mean2.reset(), ctx.rstd2.reset();
  }
  return dx2;
}

// Attention half: dx2 [n, H] -> dx [n, H].
template <class T>
Buffer<T> attn_backward(const LayerEnv& env, Unit<T>& u, BlockCtx<T>& ctx, Buffer<T> dx2) {
  const Dims& d = env.d;
  MemoryTracker& mem = *env.mem;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden;
  const int64_t qd = d.q_local(), kvd = d.kv_local();
  const MemCategory tmp = MemCategory::temporaries;
  const bool split = env.split_weight_grads;
  Buffer<T> dp_full;  // grad of the projection output before the reduce: [N, H]
  if (d.sp) dp_full = tp_gather(env, dx2.data(), H, tmp);
  else if (split) dp_full = dx2.clone(tmp);
  const T* dp = (d.sp || split) ? dp_full.data() : dx2.data();

  Buffer<T> dout(mem, tmp, N * qd);
  linear_backward_input(dp, u.param(kWo), dout.data(), N, qd, H, false);
  const AttnShape shape{d.micro_batch, d.seq, d.heads_local, d.kv_heads_local, d.head_dim};
  Buffer<T> probs;
  if (ctx.probs.empty()) {  // selective recompute: rebuild the softmax from q and k
    probs = Buffer<T>(mem, tmp, d.micro_batch * d.heads_local * d.seq * d.seq);
    attention_probs(shape, ctx.q.data(), ctx.k.data(), probs.data());
  }
  Buffer<T> dq(mem, tmp, N * qd), dk(mem, tmp, N * kvd), dv(mem, tmp, N * kvd);
  attention_backward(shape, ctx.q.data(), ctx.k.data(), ctx.v.data(),
                     ctx.probs.empty() ? probs.data() : ctx.probs.data(), dout.data(), dq.data(),
                     dk.data(), dv.data());
  probs.reset();
  dout.reset();
  Buffer<T> a_full;
  if (d.sp) a_full = tp_gather(env, ctx.h1.data(), H, tmp);
  const T* a = d.sp ? a_full.data() : ctx.h1.data();
  if (!split) attn_weight_grads(env, u, ctx, dp, dq.data(), dk.data(), dv.data(), a);

  Buffer<T> da(mem, tmp, N * H);
  linear_backward_input(dq.data(), u.param(kWq), da.data(), N, H, qd, false);
  linear_backward_input(dk.data(), u.param(kWk), da.data(), N, H, kvd, true);
  linear_backward_input(dv.data(), u.param(kWv), da.data(), N, H, kvd, true);
  if (split) {
    ctx.d_attn_out = std::move(dp_full);
    ctx.dq = std::move(dq), ctx.dk = std::move(dk), ctx.dv = std::move(dv);
    ctx.a_full = std::move(a_full);
  } else {
    dp_full.reset(), dq.reset(), dk.reset(), dv.reset(), a_full.reset();
    ctx.q.reset(), ctx.k.reset(), ctx.v.reset(), ctx.probs.reset(), ctx.o.reset();
  }
  Buffer<T> dh1 = tp_reduce(env, std::move(da), H, tmp);
  ctx.dln1w = Buffer<T>(mem, tmp, H);
  ctx.dln1b = Buffer<T>(mem, tmp, d.rmsnorm ? 0 : H);
  Buffer<T> dx = std::move(dx2);  // residual: dx = dx2 + norm1'(dh1)
  norm_backward(d, u, kLn1W, dh1.data(), ctx.x.data(), ctx.mean1.data(), ctx.rstd1.data(),
                dx.data(), ctx.dln1w.data(), ctx.dln1b.data(), n);
  if (!split) apply_norm_grads(env, u, kLn1W, kLn1B, ctx.dln1w, ctx.dln1b);
  return dx;
}

}  // namespace

template <class T>
Buffer<T> block_backward(const LayerEnv& env, Unit<T>& u, BlockCtx<T>& ctx, Buffer<T> dy) {
  u.acquire(*env.dp);
  // Full recompute: rebuild the intermediates (communication included) as recompute scratch,
  // the working set of this one block's backward, not activations kept across passes.
  if (!ctx.complete)
    block_forward_into(env, u, ctx.x.data(), ctx, MemCategory::temporaries, true, false);
  if (!env.split_weight_grads) u.begin_grads();
  Buffer<T> dx2 = mlp_backward(env, u, ctx, std::move(dy));
  Buffer<T> dx = attn_backward(env, u, ctx, std::move(dx2));
  if (!env.split_weight_grads) {
    u.end_grads(*env.dp);
    ctx = BlockCtx<T>();
  }
  u.release();
  return dx;
}

template <class T>
void block_weight_grads(const LayerEnv& env, Unit<T>& u, BlockCtx<T>& ctx) {
  const bool sp = env.d.sp;
  u.begin_grads();
  mlp_weight_grads(env, u, ctx, ctx.d_mlp_out.data(), ctx.du1.data(), ctx.du3.data(),
                   sp ? ctx.b_full.data() : ctx.h2.data());
  apply_norm_grads(env, u, kLn2W, kLn2B, ctx.dln2w, ctx.dln2b);
  attn_weight_grads(env, u, ctx, ctx.d_attn_out.data(), ctx.dq.data(), ctx.dk.data(),
                    ctx.dv.data(), sp ? ctx.a_full.data() : ctx.h1.data());
  apply_norm_grads(env, u, kLn1W, kLn1B, ctx.dln1w, ctx.dln1b);
  u.end_grads(*env.dp);
  ctx = BlockCtx<T>();
}

template Buffer<float> block_backward(const LayerEnv&, Unit<float>&, BlockCtx<float>&,
                                      Buffer<float>);
template Buffer<double> block_backward(const LayerEnv&, Unit<double>&, BlockCtx<double>&,
                                       Buffer<double>);
template void block_weight_grads(const LayerEnv&, Unit<float>&, BlockCtx<float>&);
template void block_weight_grads(const LayerEnv&, Unit<double>&, BlockCtx<double>&);

}  // namespace shardplan::executor
