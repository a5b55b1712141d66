// Embedding lookup and LM head with vocab-parallel cross-entropy (Megatron's
// VocabParallelEmbedding and vocab_parallel_cross_entropy, without the fp16 details).
#include "executor/embed_head.hpp"

#include <cmath>

#include "executor/block.hpp"
#include "executor/gemm.hpp"
#include "executor/kernels.hpp"

namespace shardplan::executor {

template <class T>
Buffer<T> embed_forward(const LayerEnv& env, Unit<T>& table, const int32_t* tokens) {
  const Dims& d = env.d;
  table.acquire(*env.dp);
  Buffer<T> partial(*env.mem, MemCategory::temporaries, d.tokens * d.hidden);
  embedding_forward(tokens, d.tokens, table.param(0), env.tp_idx * d.vocab_local, d.vocab_local,
                    d.hidden, partial.data());
  table.release();
  return tp_reduce(env, std::move(partial), d.hidden, MemCategory::activations);
}

template <class T>
void embed_backward(const LayerEnv& env, Unit<T>& table, const int32_t* tokens, const Buffer<T>& dx) {
  const Dims& d = env.d;
  Buffer<T> full;
  if (d.sp) full = tp_gather(env, dx.data(), d.hidden, MemCategory::temporaries);
  table.begin_grads();
  embedding_backward(tokens, d.tokens, d.sp ? full.data() : dx.data(),
                     env.tp_idx * d.vocab_local, d.vocab_local, d.hidden, table.grad(0));
  table.end_grads(*env.dp);
}

template <class T>
double head_forward(const LayerEnv& env, Unit<T>& norm, Unit<T>& table, Buffer<T> x,
                    const int32_t* targets, double loss_scale, HeadCtx<T>& ctx) {
  const Dims& d = env.d;
  MemoryTracker& mem = *env.mem;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden, V = d.vocab_local;
  const int64_t v0 = env.tp_idx * V;
  norm.acquire(*env.dp);
  table.acquire(*env.dp);
  ctx.x = std::move(x);
  ctx.hn = Buffer<T>(mem, MemCategory::activations, n * H);
  ctx.mean = Buffer<T>(mem, MemCategory::activations, d.rmsnorm ? 0 : n);  // RMSNorm: none
  ctx.rstd = Buffer<T>(mem, MemCategory::activations, n);
  norm_forward(d, norm, kNormW, kNormB, ctx.x.data(), ctx.hn.data(), ctx.mean.data(),
               ctx.rstd.data(), n);
  Buffer<T> h_full;
  if (d.sp) h_full = tp_gather(env, ctx.hn.data(), H, MemCategory::temporaries);
  const T* h = d.sp ? h_full.data() : ctx.hn.data();
  ctx.dlogits = Buffer<T>(mem, MemCategory::activations, N * V);
  T* logits = ctx.dlogits.data();
  gemm<T>(false, true, N, V, H, T(1), h, H, table.param(0), H, T(0), logits, V);  // h·tableᵀ
  h_full.reset();
  Buffer<T> row_max(mem, MemCategory::temporaries, N);
  ce_row_max(logits, N, V, row_max.data());
  env.tp->all_reduce(row_max.data(), N, ReduceOp::max);
  Buffer<T> stats(mem, MemCategory::temporaries, 2 * N);  // [sumexp | target logit]
  ce_sumexp_target(logits, N, V, row_max.data(), targets, v0, stats.data(), stats.data() + N);
  env.tp->all_reduce(stats.data(), 2 * N);
  double loss = 0;
  for (int64_t i = 0; i < N; ++i)
    loss += std::log(double(stats[i])) + double(row_max[i]) - double(stats[N + i]);
  ce_backward(logits, N, V, row_max.data(), stats.data(), targets, v0, T(loss_scale));
  table.release();
  norm.release();
  return loss;
}

namespace {
// table grad += dlogitsᵀ·h (h gathered under SP).
template <class T>
void head_table_grads(const LayerEnv& env, Unit<T>& table, const HeadCtx<T>& ctx) {
  const Dims& d = env.d;
  Buffer<T> h_full;
  if (d.sp) h_full = tp_gather(env, ctx.hn.data(), d.hidden, MemCategory::temporaries);
  const T* h = d.sp ? h_full.data() : ctx.hn.data();
  table.begin_grads();
  gemm<T>(true, false, d.vocab_local, d.hidden, d.tokens, T(1), ctx.dlogits.data(), d.vocab_local,
          h, d.hidden, T(1), table.grad(0), d.hidden);
  table.end_grads(*env.dp);
}
}  // namespace

template <class T>
Buffer<T> head_backward(const LayerEnv& env, Unit<T>& norm, Unit<T>& table, HeadCtx<T>& ctx) {
  const Dims& d = env.d;
  MemoryTracker& mem = *env.mem;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden, V = d.vocab_local;
  const MemCategory tmp = MemCategory::temporaries;
  norm.acquire(*env.dp);
  table.acquire(*env.dp);
  if (!env.split_weight_grads) head_table_grads(env, table, ctx);
  Buffer<T> dh(mem, tmp, N * H);
  gemm<T>(false, false, N, H, V, T(1), ctx.dlogits.data(), V, table.param(0), H, T(0), dh.data(), H);
  dh = tp_reduce(env, std::move(dh), H, tmp);
  Buffer<T> dx(mem, tmp, n * H), dw(mem, tmp, H), db(mem, tmp, d.rmsnorm ? 0 : H);
  norm_backward(d, norm, kNormW, dh.data(), ctx.x.data(), ctx.mean.data(), ctx.rstd.data(),
                dx.data(), dw.data(), db.data(), n);
  norm.begin_grads();
  apply_norm_grads(env, norm, kNormW, kNormB, dw, db);
  norm.end_grads(*env.dp);
  table.release();
  norm.release();
  if (!env.split_weight_grads) ctx = HeadCtx<T>();
  return dx;
}

template <class T>
void head_weight_grads(const LayerEnv& env, Unit<T>& table, HeadCtx<T>& ctx) {
  head_table_grads(env, table, ctx);
  ctx = HeadCtx<T>();
}

#define SHARDPLAN_INSTANTIATE(T)                                                                \
  template Buffer<T> embed_forward<T>(const LayerEnv&, Unit<T>&, const int32_t*);              \
  template void embed_backward<T>(const LayerEnv&, Unit<T>&, const int32_t*, const Buffer<T>&); \
  template double head_forward<T>(const LayerEnv&, Unit<T>&, Unit<T>&, Buffer<T>,              \
                                  const int32_t*, double, HeadCtx<T>&);                        \
  template Buffer<T> head_backward<T>(const LayerEnv&, Unit<T>&, Unit<T>&, HeadCtx<T>&);     \
  template void head_weight_grads<T>(const LayerEnv&, Unit<T>&, HeadCtx<T>&);
SHARDPLAN_INSTANTIATE(float)
SHARDPLAN_INSTANTIATE(double)
#undef SHARDPLAN_INSTANTIATE

}  // namespace shardplan::executor
