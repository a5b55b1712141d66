// Parameter specs of the GPT-style decoder and their counter-based initialisation.
// Init follows GPT-2: N(0, 0.02²) for matrices, output projections scaled by 1/√(2·layers).
#include "executor/params.hpp"

#include <cmath>

namespace shardplan::executor {

namespace {
constexpr double kInitStd = 0.02;

ParamSpec matrix(std::string name, int64_t rows, int64_t cols, TpSplit split, double std) {
  ParamSpec p;
  p.init_name = name;
  p.name = std::move(name);
  p.rows = rows;
  p.cols = cols;
  p.split = split;
  p.init = ParamInit::normal;
  p.init_std = std;
  p.weight_decay = true;
  return p;
}
ParamSpec vec(std::string name, int64_t n, ParamInit init) {
  ParamSpec p;
  p.init_name = name;
  p.name = std::move(name);
  p.rows = n > 0 ? 1 : 0;
  p.cols = n;
  p.init = init;
  return p;
}
void norm_specs(const ModelSpec& m, const std::string& prefix, std::vector<ParamSpec>& out) {
  out.push_back(vec(prefix + ".weight", m.hidden, ParamInit::ones));
  out.push_back(vec(prefix + ".bias", m.norm == "layernorm" ? m.hidden : 0, ParamInit::zeros));
}
}  // namespace

std::vector<ParamSpec> block_param_specs(const ModelSpec& m, int64_t layer) {
  const std::string p = "layers." + std::to_string(layer) + ".";
  const double out_std = kInitStd / std::sqrt(2.0 * static_cast<double>(m.layers));
  const int64_t q = m.heads * m.head_dim, kv = m.kv_heads * m.head_dim;
  const bool swiglu = m.ffn_act == "swiglu";
  std::vector<ParamSpec> s;
  norm_specs(m, p + "ln1", s);
  s.push_back(matrix(p + "attn.wq", m.hidden, q, TpSplit::cols, kInitStd));
  s.push_back(matrix(p + "attn.wk", m.hidden, kv, TpSplit::cols, kInitStd));
  s.push_back(matrix(p + "attn.wv", m.hidden, kv, TpSplit::cols, kInitStd));
  s.push_back(matrix(p + "attn.wo", q, m.hidden, TpSplit::rows, out_std));
  norm_specs(m, p + "ln2", s);
  s.push_back(matrix(p + "mlp.w1", m.hidden, m.ffn_hidden, TpSplit::cols, kInitStd));
  s.push_back(matrix(p + "mlp.w3", swiglu ? m.hidden : 0, m.ffn_hidden, TpSplit::cols, kInitStd));
  s.push_back(matrix(p + "mlp.w2", m.ffn_hidden, m.hidden, TpSplit::rows, out_std));
  return s;
}

std::vector<ParamSpec> embedding_param_specs(const ModelSpec& m) {
  return {matrix("embed.weight", m.vocab, m.hidden, TpSplit::rows, kInitStd)};
}

std::vector<ParamSpec> final_norm_param_specs(const ModelSpec& m) {
  std::vector<ParamSpec> s;
  norm_specs(m, "final_norm", s);
  return s;
}

std::vector<ParamSpec> head_param_specs(const ModelSpec& m) {
  if (m.tied_embeddings) return embedding_param_specs(m);
  return {matrix("head.weight", m.vocab, m.hidden, TpSplit::rows, kInitStd)};
}

uint64_t hash64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t hash_string(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

double init_value(const ParamSpec& p, uint64_t seed, int64_t row, int64_t col) {
  if (p.init == ParamInit::ones) return 1.0;
  if (p.init == ParamInit::zeros) return 0.0;
  // Box-Muller on two uniforms in (0, 1] drawn from the element's counter.
  const uint64_t base = hash64(seed ^ hash64(hash_string(p.init_name)));
  const uint64_t idx = static_cast<uint64_t>(row * p.cols + col);
  const double u1 = (static_cast<double>(hash64(base + 2 * idx) >> 11) + 1.0) * 0x1.0p-53;
  const double u2 = static_cast<double>(hash64(base + 2 * idx + 1) >> 11) * 0x1.0p-53;
  return p.init_std * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

void global_position(const ParamSpec& p, int64_t tp_idx, int64_t tp, int64_t i, int64_t& row,
                     int64_t& col) {
  const int64_t lc = p.local_cols(tp);
  row = i / lc;
  col = i % lc;
  if (p.split == TpSplit::rows) row += tp_idx * p.local_rows(tp);
  if (p.split == TpSplit::cols) col += tp_idx * lc;
}

}  // namespace shardplan::executor
