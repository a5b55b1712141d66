// The model's ends on the GPU (executor/embed_head.cpp): vocab-parallel embedding, final norm,
// LM head and vocab-parallel cross-entropy with float logits.
#include <algorithm>
#include <numeric>

#include "executor/cuda/kernels.hpp"
#include "executor/cuda/model.hpp"

namespace shardplan::executor::cuda {

namespace {
constexpr MemCategory kTmp = MemCategory::temporaries;
}

EmbeddingRows embedding_rows(const std::vector<int32_t>& tokens, int64_t vocab_begin,
                             int64_t vocab_local) {
  std::vector<int32_t> order;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t row = int64_t(tokens[i]) - vocab_begin;
    if (row >= 0 && row < vocab_local) order.push_back(static_cast<int32_t>(i));
  }
  // Stable: positions of one row stay in token order, the CPU backend's summation order.
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return tokens[a] < tokens[b]; });
  EmbeddingRows e;
  e.positions = order;
  for (size_t i = 0; i < order.size(); ++i)
    if (i == 0 || tokens[order[i]] != tokens[order[i - 1]]) {
      e.rows.push_back(static_cast<int32_t>(tokens[order[i]] - vocab_begin));
      e.starts.push_back(static_cast<int32_t>(i));
    }
  e.starts.push_back(static_cast<int32_t>(order.size()));
  return e;
}

DevBuf<bf16> embed_forward(const CudaEnv& env, DUnit& table, const int32_t* d_tokens) {
  const Dims& d = env.d;
  table.acquire(*env.dp);
  DevBuf<float> partial = env.buf<float>(kTmp, d.tokens * d.hidden);
  embedding_forward(d_tokens, d.tokens, table.param(0), env.tp_idx * d.vocab_local, d.vocab_local,
                    d.hidden, partial.data(), env.stream);
  table.release();
  DevBuf<float> x = tp_reduce(env, std::move(partial), d.hidden, kTmp);
  DevBuf<bf16> out = env.buf<bf16>(MemCategory::activations, x.size());
  f32_to_bf16(x.data(), out.data(), x.size(), env.stream);
  return out;
}

void embed_backward(const CudaEnv& env, DUnit& table, const std::vector<int32_t>& host_tokens,
                    const DevBuf<float>& dx) {
  const Dims& d = env.d;
  DevBuf<float> full;
  if (d.sp) full = tp_gather(env, dx.data(), d.hidden, kTmp);
  const EmbeddingRows e = embedding_rows(host_tokens, env.tp_idx * d.vocab_local, d.vocab_local);
  auto upload = [&](const std::vector<int32_t>& v) {
    DevBuf<int32_t> b = env.buf<int32_t>(kTmp, static_cast<int64_t>(v.size()));
    b.upload(v);
    return b;
  };
  DevBuf<int32_t> rows = upload(e.rows), starts = upload(e.starts), pos = upload(e.positions);
  table.begin_grads();
  embedding_backward(rows.data(), starts.data(), pos.data(), static_cast<int64_t>(e.rows.size()),
                     d.sp ? full.data() : dx.data(), d.hidden, table.grad(0), env.stream);
  table.end_grads(*env.dp);
}

void head_forward(const CudaEnv& env, DUnit& norm, DUnit& table, DevBuf<bf16> x,
                  const int32_t* d_targets, double loss_scale, DHeadCtx& ctx, double* d_loss) {
  const Dims& d = env.d;
  const Stream s = env.stream;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden, V = d.vocab_local;
  const int64_t v0 = env.tp_idx * V;
  norm.acquire(*env.dp);
  table.acquire(*env.dp);
  ctx.x = std::move(x);
  ctx.hn = env.buf<bf16>(MemCategory::activations, n * H);
  ctx.mean = env.buf<float>(MemCategory::activations, n);
  ctx.rstd = env.buf<float>(MemCategory::activations, n);
  norm_forward(env, norm, kNormW, kNormB, ctx.x.data(), ctx.hn.data(), ctx.mean.data(),
               ctx.rstd.data(), n);
  DevBuf<bf16> h_full;
  if (d.sp) h_full = tp_gather(env, ctx.hn.data(), H, kTmp);
  const bf16* h = d.sp ? h_full.data() : ctx.hn.data();
  DevBuf<float> logits = env.buf<float>(kTmp, N * V);
  gemm(*env.blas, false, true, N, V, H, 1.f, h, H, table.param(0), H, 0.f, logits.data(),
       OutType::f32, V);  // h·tableᵀ
  h_full.reset();
  DevBuf<float> row_max = env.buf<float>(kTmp, N);
  ce_row_max(logits.data(), N, V, row_max.data(), s);
  env.tp->all_reduce(row_max.data(), N, ReduceOp::max);
  DevBuf<float> stats = env.buf<float>(kTmp, 2 * N);  // [sumexp | target logit]
  ce_sumexp_target(logits.data(), N, V, row_max.data(), d_targets, v0, stats.data(),
                   stats.data() + N, s);
  env.tp->all_reduce(stats.data(), 2 * N);
  ce_loss_sum(row_max.data(), stats.data(), stats.data() + N, N, d_loss, s);
  ctx.dlogits = env.buf<bf16>(MemCategory::activations, N * V);
  ce_backward(logits.data(), N, V, row_max.data(), stats.data(), d_targets, v0, float(loss_scale),
              ctx.dlogits.data(), s);
  table.release();
  norm.release();
}

DevBuf<float> head_backward(const CudaEnv& env, DUnit& norm, DUnit& table, DHeadCtx& ctx) {
  const Dims& d = env.d;
  const int64_t n = d.tokens_local, N = d.tokens, H = d.hidden, V = d.vocab_local;
  norm.acquire(*env.dp);
  table.acquire(*env.dp);
  DevBuf<bf16> h_full;
  if (d.sp) h_full = tp_gather(env, ctx.hn.data(), H, kTmp);
  const bf16* h = d.sp ? h_full.data() : ctx.hn.data();
  table.begin_grads();
  gemm(*env.blas, true, false, V, H, N, 1.f, ctx.dlogits.data(), V, h, H, 1.f, table.grad(0),
       OutType::f32, H);  // dtable += dlogitsᵀ·h
  table.end_grads(*env.dp);
  h_full.reset();
  DevBuf<float> dh = env.buf<float>(kTmp, N * H);
  gemm(*env.blas, false, false, N, H, V, 1.f, ctx.dlogits.data(), V, table.param(0), H, 0.f,
       dh.data(), OutType::f32, H);  // dh = dlogits·table
  ctx.dlogits.reset();
  dh = tp_reduce(env, std::move(dh), H, kTmp);
  DevBuf<float> dx = env.buf<float>(kTmp, n * H, true), dw = env.buf<float>(kTmp, H, true),
                db = env.buf<float>(kTmp, H, true);
  norm_backward(env, norm, kNormW, dh.data(), ctx.x.data(), ctx.mean.data(), ctx.rstd.data(),
                dx.data(), dw.data(), db.data(), n);
  norm.begin_grads();
  apply_norm_grads(env, norm, kNormW, kNormB, dw, db);
  norm.end_grads(*env.dp);
  table.release();
  norm.release();
  ctx = DHeadCtx();
  return dx;
}

}  // namespace shardplan::executor::cuda
