// make_dims and the TP/SP collectives (see layer_env.hpp).
#include "executor/layer_env.hpp"

#include <string>

namespace shardplan::executor {

Dims make_dims(const ModelSpec& m, const Strategy& s) {
  Dims d;
  d.hidden = m.hidden;
  d.heads = m.heads;
  d.kv_heads = m.kv_heads;
  d.head_dim = m.head_dim;
  d.ffn = m.ffn_hidden;
  d.vocab = m.vocab;
  d.seq = s.seq_len_or(m.seq_len);
  d.micro_batch = s.micro_batch;
  d.tokens = d.micro_batch * d.seq;
  d.tp = s.tp;
  d.sp = s.sp && s.tp > 1;
  d.swiglu = m.ffn_act == "swiglu";
  d.rmsnorm = m.norm == "rmsnorm";
  d.recompute = s.recompute;
  auto need = [&](int64_t v, const char* what) {
    if (v % s.tp != 0)
      throw std::runtime_error("tp=" + std::to_string(s.tp) + " must divide " + what + " (" +
                               std::to_string(v) + ")");
    return v / s.tp;
  };
  d.heads_local = need(m.heads, "heads");
  d.kv_heads_local = need(m.kv_heads, "kv_heads");
  d.ffn_local = need(m.ffn_hidden, "ffn_hidden");
  d.vocab_local = need(m.vocab, "vocab");
  d.tokens_local = d.sp ? need(d.tokens, "the tokens of a micro-batch (micro_batch*seq_len) under sp") : d.tokens;
  return d;
}

template <class T>
Buffer<T> tp_gather(const LayerEnv& env, const T* x, int64_t cols, MemCategory category) {
  Buffer<T> out(*env.mem, category, env.d.tokens * cols);
  env.tp->all_gather(x, out.data(), env.d.tokens_local * cols);
  return out;
}

template <class T>
Buffer<T> tp_reduce(const LayerEnv& env, Buffer<T> partial, int64_t cols, MemCategory category) {
  if (!env.d.sp) {
    env.tp->all_reduce(partial.data(), partial.size());
    partial.recategorize(category);
    return partial;
  }
  Buffer<T> out(*env.mem, category, env.d.tokens_local * cols);
  env.tp->reduce_scatter(partial.data(), out.data(), env.d.tokens_local * cols);
  return out;
}

template Buffer<float> tp_gather(const LayerEnv&, const float*, int64_t, MemCategory);
template Buffer<double> tp_gather(const LayerEnv&, const double*, int64_t, MemCategory);
template Buffer<float> tp_reduce(const LayerEnv&, Buffer<float>, int64_t, MemCategory);
template Buffer<double> tp_reduce(const LayerEnv&, Buffer<double>, int64_t, MemCategory);

}  // namespace shardplan::executor
