// Each CUDA kernel against the CPU backend's float implementation (executor/kernels.hpp, gemm.hpp)
// on the same bf16-representable inputs. Tolerances: outputs stored as bf16 carry 2^-8 relative
// rounding, so they are checked to 1e-2 of the reference's scale; float outputs (statistics,
// parameter gradients, logits) to 1e-4; attention, whose backward reuses bf16 outputs, to 2e-2.
#include "executor/cuda/kernels.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "executor/cuda/attention.hpp"
#include "executor/cuda/gemm.hpp"
#include "executor/cuda/model.hpp"
#include "executor/gemm.hpp"
#include "executor/kernels.hpp"
#include "executor/params.hpp"
#include "gpu_test.hpp"

using namespace shardplan;
using namespace shardplan::executor;
using namespace gpu_test;
namespace cu = shardplan::executor::cuda;

namespace {
constexpr double kBf16Tol = 1e-2, kF32Tol = 1e-4, kAttnTol = 2e-2;
}

TEST_CASE("layernorm and rmsnorm, forward and backward, match the CPU backend") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  const int64_t n = 37, h = 200;  // h not a multiple of the block size
  const auto x = randn_bf16(n * h, 1, 2.f, 0.5f), gamma = randn_bf16(h, 2, 0.2f, 1.f),
             beta = randn_bf16(h, 3, 0.1f), dyv = randn_bf16(n * h, 4);
  auto dx0 = randn_bf16(n * h, 5, 0.1f);  // backward adds into dx
  auto dg0 = randn_bf16(h, 6, 0.1f), db0 = randn_bf16(h, 7, 0.1f);
  for (bool rms : {false, true}) {
    CAPTURE(rms);
    std::vector<float> y(n * h), mean(n), rstd(n), dx = dx0, dg = dg0, db = db0;
    if (rms)
      rmsnorm_forward(x.data(), gamma.data(), y.data(), rstd.data(), n, h);
    else
      layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), n,
                        h);
    if (rms)
      rmsnorm_backward(dyv.data(), x.data(), gamma.data(), rstd.data(), dx.data(), dg.data(), n, h);
    else
      layernorm_backward(dyv.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(),
                         dg.data(), db.data(), n, h);

    auto dX = dev.up_bf16(x), dG = dev.up_bf16(gamma), dB = dev.up_bf16(beta);
    auto dY = dev.zeros<cu::bf16>(n * h);
    auto dM = dev.zeros<float>(n), dR = dev.zeros<float>(n);
    auto dDy = dev.up(dyv), dDx = dev.up(dx0), dDg = dev.up(dg0), dDb = dev.up(db0);
    if (rms) {
      cu::rmsnorm_forward(dX.data(), dG.data(), dY.data(), dR.data(), n, h, dev.s);
      cu::rmsnorm_backward(dDy.data(), dX.data(), dG.data(), dR.data(), dDx.data(), dDg.data(), n,
                           h, dev.s);
    } else {
      cu::layernorm_forward(dX.data(), dG.data(), dB.data(), dY.data(), dM.data(), dR.data(), n, h,
                            dev.s);
      cu::layernorm_backward(dDy.data(), dX.data(), dG.data(), dM.data(), dR.data(), dDx.data(),
                             dDg.data(), dDb.data(), n, h, dev.s);
    }
    CHECK(rel_err(dev.down(dY), y) < kBf16Tol);
    CHECK(rel_err(dev.down(dR), rstd) < kF32Tol);
    if (!rms) CHECK(rel_err(dev.down(dM), mean) < kF32Tol);
    CHECK(rel_err(dev.down(dDx), dx) < kF32Tol);
    CHECK(rel_err(dev.down(dDg), dg) < kF32Tol);
    if (!rms) CHECK(rel_err(dev.down(dDb), db) < kF32Tol);
  }
}

TEST_CASE("GELU and SwiGLU, forward and backward, match the CPU backend") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  const int64_t n = 5000;
  const auto u = randn_bf16(n, 11, 2.f), up = randn_bf16(n, 12, 1.f), dg = randn_bf16(n, 13);
  std::vector<float> g(n), du(n), g2(n), dgate(n), dup(n);
  gelu_forward(u.data(), g.data(), n);
  gelu_backward(dg.data(), u.data(), du.data(), n);
  swiglu_forward(u.data(), up.data(), g2.data(), n);
  swiglu_backward(dg.data(), u.data(), up.data(), dgate.data(), dup.data(), n);
  auto dU = dev.up_bf16(u), dUp = dev.up_bf16(up), dDg = dev.up_bf16(dg);
  auto o1 = dev.zeros<cu::bf16>(n), o2 = dev.zeros<cu::bf16>(n), o3 = dev.zeros<cu::bf16>(n),
       o4 = dev.zeros<cu::bf16>(n), o5 = dev.zeros<cu::bf16>(n);
  cu::gelu_forward(dU.data(), o1.data(), n, dev.s);
  cu::gelu_backward(dDg.data(), dU.data(), o2.data(), n, dev.s);
  cu::swiglu_forward(dU.data(), dUp.data(), o3.data(), n, dev.s);
  cu::swiglu_backward(dDg.data(), dU.data(), dUp.data(), o4.data(), o5.data(), n, dev.s);
  CHECK(rel_err(dev.down(o1), g) < kBf16Tol);
  CHECK(rel_err(dev.down(o2), du) < kBf16Tol);
  CHECK(rel_err(dev.down(o3), g2) < kBf16Tol);
  CHECK(rel_err(dev.down(o4), dgate) < kBf16Tol);
  CHECK(rel_err(dev.down(o5), dup) < kBf16Tol);
}

TEST_CASE("fused causal attention matches the CPU backend's, MHA and GQA, forward and backward") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  // Sequences not a multiple of the 16/32-row tiles; head_dim 16 (small instantiation) and
  // 64 / 128 (large one).
  const AttnShape shapes[] = {
      {2, 37, 4, 2, 16}, {1, 70, 2, 2, 64}, {1, 40, 4, 1, 128}, {3, 1, 2, 2, 8}};
  for (const AttnShape& s : shapes) {
    CAPTURE(s.seq);
    CAPTURE(s.head_dim);
    const int64_t nq = s.batch * s.seq * s.q_heads * s.head_dim,
                  nk = s.batch * s.seq * s.kv_heads * s.head_dim;
    const auto q = randn_bf16(nq, 21), k = randn_bf16(nk, 22), v = randn_bf16(nk, 23),
               dout = randn_bf16(nq, 24);
    std::vector<float> probs(s.batch * s.q_heads * s.seq * s.seq), out(nq), dq(nq), dk(nk), dv(nk);
    attention_forward(s, q.data(), k.data(), v.data(), probs.data(), out.data());
    attention_backward(s, q.data(), k.data(), v.data(), probs.data(), dout.data(), dq.data(),
                       dk.data(), dv.data());
    // log-sum-exp per (batch, head, query), in double, from the definition.
    std::vector<float> lse(s.batch * s.q_heads * s.seq);
    const int64_t group = s.q_heads / s.kv_heads;
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.q_heads; ++h)
        for (int64_t i = 0; i < s.seq; ++i) {
          double mx = -1e300, sum = 0;
          std::vector<double> sc(i + 1);
          for (int64_t j = 0; j <= i; ++j) {
            double d = 0;
            for (int64_t e = 0; e < s.head_dim; ++e)
              d += double(q[((b * s.seq + i) * s.q_heads + h) * s.head_dim + e]) *
                   double(k[((b * s.seq + j) * s.kv_heads + h / group) * s.head_dim + e]);
            sc[j] = d / std::sqrt(double(s.head_dim));
            mx = std::max(mx, sc[j]);
          }
          for (double x : sc) sum += std::exp(x - mx);
          lse[(b * s.q_heads + h) * s.seq + i] = float(mx + std::log(sum));
        }
    auto dQ = dev.up_bf16(q), dK = dev.up_bf16(k), dV = dev.up_bf16(v), dDo = dev.up_bf16(dout);
    auto dO = dev.zeros<cu::bf16>(nq), gq = dev.zeros<cu::bf16>(nq), gk = dev.zeros<cu::bf16>(nk),
         gv = dev.zeros<cu::bf16>(nk);
    auto dL = dev.zeros<float>(s.batch * s.q_heads * s.seq);
    cu::flash_attention_forward(s, dQ.data(), dK.data(), dV.data(), dO.data(), dL.data(), dev.s);
    cu::flash_attention_backward(s, dQ.data(), dK.data(), dV.data(), dO.data(), dDo.data(),
                                 dL.data(), gq.data(), gk.data(), gv.data(), dev.s);
    CHECK(rel_err(dev.down(dO), out) < kBf16Tol);
    CHECK(rel_err(dev.down(dL), lse) < kF32Tol);
    CHECK(rel_err(dev.down(gq), dq) < kAttnTol);
    CHECK(rel_err(dev.down(gk), dk) < kAttnTol);
    CHECK(rel_err(dev.down(gv), dv) < kAttnTol);
  }
}

TEST_CASE("unfused attention through cuBLAS matches the CPU backend's, probabilities included") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  cu::Blas blas(dev.s);
  const AttnShape shapes[] = {{2, 37, 4, 2, 16}, {1, 70, 2, 2, 12}, {2, 9, 6, 2, 8}};
  for (const AttnShape& s : shapes) {
    CAPTURE(s.seq);
    CAPTURE(s.head_dim);
    const int64_t nq = s.batch * s.seq * s.q_heads * s.head_dim,
                  nk = s.batch * s.seq * s.kv_heads * s.head_dim;
    const int64_t np = s.batch * s.q_heads * s.seq * s.seq;
    const auto q = randn_bf16(nq, 81), k = randn_bf16(nk, 82), v = randn_bf16(nk, 83),
               dout = randn_bf16(nq, 84);
    std::vector<float> probs(np), out(nq), dq(nq), dk(nk), dv(nk);
    attention_forward(s, q.data(), k.data(), v.data(), probs.data(), out.data());
    attention_backward(s, q.data(), k.data(), v.data(), probs.data(), dout.data(), dq.data(),
                       dk.data(), dv.data());
    auto dQ = dev.up_bf16(q), dK = dev.up_bf16(k), dV = dev.up_bf16(v), dDo = dev.up_bf16(dout);
    auto dP = dev.zeros<cu::bf16>(np), dO = dev.zeros<cu::bf16>(nq), gq = dev.zeros<cu::bf16>(nq),
         gk = dev.zeros<cu::bf16>(nk), gv = dev.zeros<cu::bf16>(nk);
    cu::unfused_attention_forward(blas, dev.mem, s, dQ.data(), dK.data(), dV.data(), dP.data(),
                                  dO.data());
    cu::unfused_attention_backward(blas, dev.mem, s, dQ.data(), dK.data(), dV.data(), dP.data(),
                                   dDo.data(), gq.data(), gk.data(), gv.data());
    CHECK(rel_err(dev.down(dP), probs) < kBf16Tol);
    CHECK(rel_err(dev.down(dO), out) < kBf16Tol);
    CHECK(rel_err(dev.down(gq), dq) < kAttnTol);
    CHECK(rel_err(dev.down(gk), dk) < kAttnTol);
    CHECK(rel_err(dev.down(gv), dv) < kAttnTol);
  }
}

TEST_CASE("attention rejects head dims the kernel has no instantiation for") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  CHECK_THROWS_WITH_AS(cu::flash_attention_forward({1, 4, 1, 1, 12}, nullptr, nullptr, nullptr,
                                                   nullptr, nullptr, dev.s),
                       doctest::Contains("head_dim must be a multiple of 8"),
                       std::invalid_argument);
}

TEST_CASE("vocab-parallel embedding matches the CPU backend exactly") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  const int64_t vocab_local = 11, h = 70, begin = 5;
  const std::vector<int32_t> tokens = {5, 3, 15, 7, 7, 20, 5, 9, 15, 7};  // some outside [5, 16)
  const int64_t n = static_cast<int64_t>(tokens.size());
  const auto table = randn_bf16(vocab_local * h, 31), dout = randn_bf16(n * h, 32);
  std::vector<float> out(n * h), dtable = randn_bf16(vocab_local * h, 33);
  const std::vector<float> dtable0 = dtable;
  embedding_forward(tokens.data(), n, table.data(), begin, vocab_local, h, out.data());
  embedding_backward(tokens.data(), n, dout.data(), begin, vocab_local, h, dtable.data());
  auto dT = dev.up_bf16(table);
  auto dTok = dev.up(tokens);
  auto dOut = dev.zeros<float>(n * h);
  cu::embedding_forward(dTok.data(), n, dT.data(), begin, vocab_local, h, dOut.data(), dev.s);
  CHECK(dev.down(dOut) == out);
  const cu::EmbeddingRows e = cu::embedding_rows(tokens, begin, vocab_local);
  auto rows = dev.up(e.rows), starts = dev.up(e.starts), pos = dev.up(e.positions);
  auto dDout = dev.up(dout), dDt = dev.up(dtable0);
  cu::embedding_backward(rows.data(), starts.data(), pos.data(), int64_t(e.rows.size()),
                         dDout.data(), h, dDt.data(), dev.s);
  CHECK(dev.down(dDt) == dtable);  // same additions in the same order
}

TEST_CASE("vocab-parallel cross-entropy pieces match the CPU backend") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  const int64_t n = 33, v = 300, begin = 100;
  const auto logits = randn_bf16(n * v, 41, 3.f);
  std::vector<int32_t> targets(n);
  for (int64_t i = 0; i < n; ++i) targets[i] = int32_t((i * 37) % 500);  // some outside [100, 400)
  std::vector<float> mx(n), se(n), tl(n), dl = logits;
  ce_row_max(logits.data(), n, v, mx.data());
  ce_sumexp_target(logits.data(), n, v, mx.data(), targets.data(), begin, se.data(), tl.data());
  ce_backward(dl.data(), n, v, mx.data(), se.data(), targets.data(), begin, 0.25f);
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) loss += std::log(double(se[i])) + mx[i] - tl[i];
  auto dLg = dev.up(logits);
  auto dTg = dev.up(targets);
  auto dMx = dev.zeros<float>(n), dSe = dev.zeros<float>(n), dTl = dev.zeros<float>(n);
  auto dAcc = dev.up(std::vector<double>{1.5});
  auto dD = dev.zeros<cu::bf16>(n * v);
  cu::ce_row_max(dLg.data(), n, v, dMx.data(), dev.s);
  cu::ce_sumexp_target(dLg.data(), n, v, dMx.data(), dTg.data(), begin, dSe.data(), dTl.data(),
                       dev.s);
  cu::ce_loss_sum(dMx.data(), dSe.data(), dTl.data(), n, dAcc.data(), dev.s);
  cu::ce_backward(dLg.data(), n, v, dMx.data(), dSe.data(), dTg.data(), begin, 0.25f, dD.data(),
                  dev.s);
  CHECK(dev.down(dMx) == mx);
  CHECK(rel_err(dev.down(dSe), se) < kF32Tol);
  CHECK(dev.down(dTl) == tl);
  CHECK(dev.down(dAcc)[0] == doctest::Approx(1.5 + loss).epsilon(1e-6));
  CHECK(rel_err(dev.down(dD), dl) < kBf16Tol);
}

TEST_CASE("AdamW, sum of squares and initial values match their host definitions") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  const int64_t n = 1000;
  auto master = randn_bf16(n, 51), grad = randn_bf16(n, 52, 0.1f), m = randn_bf16(n, 53, 0.01f);
  std::vector<float> v = randn_bf16(n, 54, 0.001f);
  for (auto& x : v) x = std::abs(x);
  cu::AdamWStep c;
  c.lr = 1e-3f, c.beta1 = 0.9f, c.beta2 = 0.95f, c.eps = 1e-8f, c.decay = 1 - 1e-4f;
  c.c1 = 1 - std::pow(0.9f, 3.f), c.c2 = 1 - std::pow(0.95f, 3.f), c.clip = 0.5f;
  std::vector<float> pm = master, mm = m, vm = v;
  for (int64_t i = 0; i < n; ++i) {  // executor/unit.cpp's update
    const float g = grad[i] * c.clip;
    mm[i] = c.beta1 * mm[i] + (1 - c.beta1) * g;
    vm[i] = c.beta2 * vm[i] + (1 - c.beta2) * g * g;
    pm[i] = pm[i] * c.decay - c.lr * (mm[i] / c.c1) / (std::sqrt(vm[i] / c.c2) + c.eps);
  }
  auto dM = dev.up(master), dG = dev.up(grad), d1 = dev.up(m), d2 = dev.up(v);
  auto dP = dev.zeros<cu::bf16>(n);
  cu::adamw_update(dM.data(), dG.data(), d1.data(), d2.data(), dP.data(), n, c, dev.s);
  CHECK(rel_err(dev.down(dM), pm) < 1e-6);
  CHECK(rel_err(dev.down(d1), mm) < 1e-6);
  CHECK(rel_err(dev.down(d2), vm) < 1e-6);
  CHECK(dev.down(dP) == cu::to_float(cu::to_bf16(dev.down(dM))));

  double sumsq = 0;
  for (float g : grad) sumsq += double(g) * double(g);
  auto acc = dev.up(std::vector<double>{2.0});
  cu::sum_squares(dG.data(), n, acc.data(), dev.s);
  CHECK(dev.down(acc)[0] == doctest::Approx(2.0 + sumsq).epsilon(1e-12));

  // Column-parallel [20, 30] matrix, TP rank 1 of 2: columns 15..29.
  ParamSpec p;
  p.name = p.init_name = "layers.0.attn.wq";
  p.rows = 20, p.cols = 30, p.split = TpSplit::cols, p.init = ParamInit::normal, p.init_std = 0.02;
  cu::InitSlot slot;
  slot.base = hash64(7 ^ hash64(hash_string(p.init_name)));
  slot.std = p.init_std, slot.cols = p.cols, slot.local_cols = 15, slot.col_offset = 15;
  auto dI = dev.zeros<float>(100);
  cu::init_slot(slot, 50, 100, dI.data(), dev.s);  // local elements 50..149
  std::vector<float> want(100);
  for (int64_t j = 0; j < 100; ++j) {
    int64_t r = 0, col = 0;
    global_position(p, 1, 2, 50 + j, r, col);
    want[j] = float(init_value(p, 7, r, col));
  }
  CHECK(rel_err(dev.down(dI), want) < 1e-6);
}

TEST_CASE("cuBLAS GEMMs match the CPU gemm in every transpose combination") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  cu::Blas blas(dev.s);
  const int64_t m = 33, n = 45, k = 70;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;  // padded strides
      const auto a = randn_bf16((ta ? k : m) * lda, 61), b = randn_bf16((tb ? n : k) * ldb, 62);
      const auto c0 = randn_bf16(m * ldc, 63);
      std::vector<float> c = c0;
      gemm<float>(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 1.f, c.data(), ldc);
      auto dA = dev.up_bf16(a), dB = dev.up_bf16(b);
      auto dC = dev.up(c0);
      cu::gemm(blas, ta, tb, m, n, k, 0.5f, dA.data(), lda, dB.data(), ldb, 1.f, dC.data(),
               cu::OutType::f32, ldc);
      CHECK(rel_err(dev.down(dC), c) < kF32Tol);
      std::vector<float> c2(m * ldc, 0.f);
      gemm<float>(ta, tb, m, n, k, 1.f, a.data(), lda, b.data(), ldb, 0.f, c2.data(), ldc);
      auto dC2 = dev.zeros<cu::bf16>(m * ldc);
      cu::gemm(blas, ta, tb, m, n, k, 1.f, dA.data(), lda, dB.data(), ldb, 0.f, dC2.data(),
               cu::OutType::bf16, ldc);
      CHECK(rel_err(dev.down(dC2), c2) < kBf16Tol);
    }
}

TEST_CASE("conversions, residual add and the local reduction helpers") {
  SKIP_WITHOUT_GPU();
  Dev dev;
  const auto x = randn_bf16(300, 71), d = randn_bf16(300, 72);
  auto dX = dev.up_bf16(x), dY = dev.zeros<cu::bf16>(300);
  auto dD = dev.up(d);
  cu::residual_add(dX.data(), dD.data(), dY.data(), 300, dev.s);
  std::vector<float> want(300);
  for (int i = 0; i < 300; ++i) want[i] = cu::to_float(cu::to_bf16(x[i] + d[i]));
  CHECK(dev.down(dY) == want);
  auto f = dev.zeros<float>(300);
  cu::bf16_to_f32(dX.data(), f.data(), 300, dev.s);
  CHECK(dev.down(f) == x);
  // acc = x; acc = max(acc, d); stored as bf16.
  auto acc = dev.zeros<float>(300);
  auto dDb = dev.up_bf16(d);
  cu::acc_load(acc.data(), dX.data(), cu::DevType::bf16, 300, dev.s);
  cu::acc_reduce(acc.data(), dDb.data(), cu::DevType::bf16, 300, true, dev.s);
  cu::acc_store(acc.data(), dY.data(), cu::DevType::bf16, 300, dev.s);
  for (int i = 0; i < 300; ++i) want[i] = std::max(x[i], d[i]);
  CHECK(dev.down(dY) == want);
}
