// Float64 gradient checks against central finite differences, single rank: each kernel (norms,
// attention MHA/GQA, GELU, SwiGLU), the whole transformer block in every recompute mode and with
// split weight grads, and embedding + final norm + head + cross-entropy (tied and untied).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "executor/block.hpp"
#include "executor/comm_inprocess.hpp"
#include "executor/embed_head.hpp"
#include "executor/kernels.hpp"

using namespace shardplan;
using namespace shardplan::executor;

namespace {

std::vector<double> randn(size_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Compares grad[i] with (f(x+h) - f(x-h)) / 2h at up to `samples` indices spread over x.
void check_grad(const std::function<double()>& f, double* x, const double* grad, int64_t n,
                const std::string& what, int64_t samples = 40) {
  const double h = 1e-6;
  double scale = 0;
  for (int64_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(grad[i]));
  const int64_t stride = std::max<int64_t>(1, n / samples);
  for (int64_t i = 0; i < n; i += stride) {
    const int64_t j = (i * 7919 + 13) % n;  // a spread-out sample
    const double saved = x[j];
    x[j] = saved + h;
    const double fp = f();
    x[j] = saved - h;
    const double fm = f();
    x[j] = saved;
    const double fd = (fp - fm) / (2 * h);
    INFO(what << "[" << j << "]: analytic " << grad[j] << ", finite difference " << fd);
    CHECK(std::abs(fd - grad[j]) <= 1e-6 * std::max(scale, 1e-3));
  }
}

ModelSpec tiny_model(const std::string& norm, const std::string& act, int64_t kv_heads) {
  ModelSpec m;
  m.name = "tiny";
  m.layers = 1;
  m.hidden = 16;
  m.heads = 4;
  m.kv_heads = kv_heads;
  m.head_dim = 4;
  m.ffn_hidden = 24;
  m.ffn_act = act;
  m.vocab = 20;
  m.seq_len = 5;
  m.norm = norm;
  return m;
}

struct SingleRank {
  InProcessWorld world{1};
  std::unique_ptr<Communicator> comm = world.communicator({0}, 0);
  MemoryTracker mem;
  LayerEnv env(const ModelSpec& m, Recompute rc, bool split) {
    Strategy s;
    s.micro_batch = 2;
    s.recompute = rc;
    LayerEnv e;
    e.d = make_dims(m, s);
    e.tp = e.dp = comm.get();
    e.mem = &mem;
    e.split_weight_grads = split;
    return e;
  }
};

void randomize(Unit<double>& u, uint64_t seed) {
  Buffer<double>& p = *u.state()[0];
  auto r = randn(static_cast<size_t>(p.size()), seed, 0.3);
  for (int64_t i = 0; i < p.size(); ++i) p[i] += r[static_cast<size_t>(i)];
}

}  // namespace

TEST_CASE("norm kernels match finite differences") {
  const int64_t n = 3, h = 7;
  auto x = randn(n * h, 1), gamma = randn(h, 2), beta = randn(h, 3), w = randn(n * h, 4);
  std::vector<double> y(n * h), mean(n), rstd(n);
  for (bool rms : {false, true}) {
    auto loss = [&] {
      if (rms) rmsnorm_forward(x.data(), gamma.data(), y.data(), rstd.data(), n, h);
      else layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), n, h);
      double s = 0;
      for (int64_t i = 0; i < n * h; ++i) s += w[i] * y[i];
      return s;
    };
    loss();
    std::vector<double> dx(n * h), dg(h), db(h);
    if (rms) rmsnorm_backward(w.data(), x.data(), gamma.data(), rstd.data(), dx.data(), dg.data(), n, h);
    else layernorm_backward(w.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(), dg.data(), db.data(), n, h);
    const std::string name = rms ? "rmsnorm" : "layernorm";
    check_grad(loss, x.data(), dx.data(), n * h, name + " dx");
    check_grad(loss, gamma.data(), dg.data(), h, name + " dgamma");
    if (!rms) check_grad(loss, beta.data(), db.data(), h, name + " dbeta");
  }
}

TEST_CASE("activation kernels match finite differences") {
  const int64_t n = 50;
  auto u = randn(n, 5, 2.0), up = randn(n, 6), w = randn(n, 7);
  std::vector<double> g(n), du(n), dup(n);
  auto gelu_loss = [&] {
    gelu_forward(u.data(), g.data(), n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += w[i] * g[i];
    return s;
  };
  gelu_backward(w.data(), u.data(), du.data(), n);
  check_grad(gelu_loss, u.data(), du.data(), n, "gelu");
  auto swiglu_loss = [&] {
    swiglu_forward(u.data(), up.data(), g.data(), n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += w[i] * g[i];
    return s;
  };
  swiglu_backward(w.data(), u.data(), up.data(), du.data(), dup.data(), n);
  check_grad(swiglu_loss, u.data(), du.data(), n, "swiglu gate");
  check_grad(swiglu_loss, up.data(), dup.data(), n, "swiglu up");
}

TEST_CASE("causal attention kernel matches finite differences (MHA and GQA)") {
  for (int64_t kv : {4, 2, 1}) {
    const AttnShape s{2, 5, 4, kv, 3};
    const int64_t rows = s.batch * s.seq, qn = rows * s.q_heads * s.head_dim;
    const int64_t kvn = rows * s.kv_heads * s.head_dim;
    auto q = randn(qn, 10), k = randn(kvn, 11), v = randn(kvn, 12), w = randn(qn, 13);
    std::vector<double> probs(s.batch * s.q_heads * s.seq * s.seq), out(qn);
    auto loss = [&] {
      attention_forward(s, q.data(), k.data(), v.data(), probs.data(), out.data());
      double t = 0;
      for (int64_t i = 0; i < qn; ++i) t += w[i] * out[i];
      return t;
    };
    loss();
    std::vector<double> dq(qn), dk(kvn), dv(kvn);
    attention_backward(s, q.data(), k.data(), v.data(), probs.data(), w.data(), dq.data(), dk.data(), dv.data());
    const std::string name = "attention kv_heads=" + std::to_string(kv);
    check_grad(loss, q.data(), dq.data(), qn, name + " dq");
    check_grad(loss, k.data(), dk.data(), kvn, name + " dk");
    check_grad(loss, v.data(), dv.data(), kvn, name + " dv");
    // Causality: the first token's output depends on nothing after it.
    auto out0 = out;
    k[kvn - 1] += 1.0;
    loss();
    CHECK(out[0] == out0[0]);
  }
}

TEST_CASE("transformer block matches finite differences in every recompute mode") {
  struct Case { std::string norm, act; int64_t kv; };
  for (const Case& c : {Case{"layernorm", "gelu", 4}, Case{"rmsnorm", "swiglu", 2}}) {
    const ModelSpec m = tiny_model(c.norm, c.act, c.kv);
    for (Recompute rc : {Recompute::none, Recompute::selective, Recompute::full}) {
      for (bool split : {false, true}) {
        SingleRank r;
        LayerEnv env = r.env(m, rc, split);
        Unit<double> u(block_param_specs(m, 0), ShardCoords{}, r.mem, 42);
        randomize(u, 3);
        const int64_t nx = env.d.tokens * m.hidden;
        auto x = randn(nx, 20), w = randn(nx, 21);
        auto loss = [&] {
          BlockCtx<double> ctx;
          Buffer<double> xb(r.mem, MemCategory::activations, nx);
          std::copy(x.begin(), x.end(), xb.data());
          Buffer<double> y = block_forward(env, u, std::move(xb), ctx);
          double s = 0;
          for (int64_t i = 0; i < nx; ++i) s += w[i] * y[i];
          return s;
        };
        BlockCtx<double> ctx;
        Buffer<double> xb(r.mem, MemCategory::activations, nx), dy(r.mem, MemCategory::temporaries, nx);
        std::copy(x.begin(), x.end(), xb.data());
        std::copy(w.begin(), w.end(), dy.data());
        block_forward(env, u, std::move(xb), ctx);
        Buffer<double> dx = block_backward(env, u, ctx, std::move(dy));
        if (split) block_weight_grads(env, u, ctx);
        const std::string name = c.norm + "/" + c.act + " recompute=" + recompute_name(rc) +
                                 (split ? " split" : "");
        check_grad(loss, x.data(), dx.data(), nx, name + " dx");
        double* p = u.state()[0]->data();
        for (size_t i = 0; i < u.specs().size(); ++i) {
          const ParamSpec& s = u.specs()[i];
          if (!s.present()) continue;
          double* pi = const_cast<double*>(u.param(static_cast<int>(i)));
          CHECK(pi >= p);
          check_grad(loss, pi, u.grad(static_cast<int>(i)), s.local_numel(1), name + " " + s.name, 12);
        }
        CHECK(r.mem.current_bytes(MemCategory::activations) == 0);
        CHECK(r.mem.current_bytes(MemCategory::temporaries) == dx.bytes());  // only dx is left
      }
    }
  }
}

TEST_CASE("embedding, final norm, head and cross-entropy match finite differences") {
  for (bool tied : {false, true}) {
    ModelSpec m = tiny_model(tied ? "rmsnorm" : "layernorm", "gelu", 4);
    m.tied_embeddings = tied;
    SingleRank r;
    LayerEnv env = r.env(m, Recompute::none, false);
    Unit<double> emb(embedding_param_specs(m), ShardCoords{}, r.mem, 7);
    Unit<double> norm(final_norm_param_specs(m), ShardCoords{}, r.mem, 7);
    Unit<double> head(head_param_specs(m), ShardCoords{}, r.mem, 8);
    randomize(emb, 1), randomize(norm, 2), randomize(head, 3);
    Unit<double>& table = tied ? emb : head;
    const int64_t N = env.d.tokens;
    std::vector<int32_t> tokens(N), targets(N);
    for (int64_t i = 0; i < N; ++i) tokens[i] = int32_t((i * 7 + 3) % m.vocab), targets[i] = int32_t((i * 5 + 1) % m.vocab);
    const double scale = 1.0 / double(N);
    auto loss = [&] {
      HeadCtx<double> ctx;
      return scale * head_forward(env, norm, table, embed_forward(env, emb, tokens.data()),
                                  targets.data(), scale, ctx);
    };
    HeadCtx<double> ctx;
    const double l = scale * head_forward(env, norm, table, embed_forward(env, emb, tokens.data()),
                                          targets.data(), scale, ctx);
    CHECK(l > 0);
    Buffer<double> dx = head_backward(env, norm, table, ctx);
    embed_backward(env, emb, tokens.data(), dx);
    const std::string name = tied ? "tied " : "untied ";
    check_grad(loss, const_cast<double*>(emb.param(0)), emb.grad(0), m.vocab * m.hidden, name + "embedding");
    check_grad(loss, const_cast<double*>(norm.param(kNormW)), norm.grad(kNormW), m.hidden, name + "final norm weight");
    if (!tied) {
      check_grad(loss, const_cast<double*>(norm.param(kNormB)), norm.grad(kNormB), m.hidden, name + "final norm bias");
      check_grad(loss, const_cast<double*>(head.param(0)), head.grad(0), m.vocab * m.hidden, name + "head");
    }
  }
}
