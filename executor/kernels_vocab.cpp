// Vocab-parallel embedding lookup and cross-entropy pieces (see kernels.hpp for the protocol).
#include <algorithm>
#include <cmath>

#include "executor/kernels.hpp"

namespace shardplan::executor {

template <class T>
void embedding_forward(const int32_t* tokens, int64_t n, const T* table, int64_t vocab_begin,
                       int64_t vocab_local, int64_t h, T* out) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = tokens[i] - vocab_begin;
    T* o = out + i * h;
    if (row >= 0 && row < vocab_local)
      std::copy(table + row * h, table + (row + 1) * h, o);
    else
      std::fill(o, o + h, T(0));
  }
}

template <class T>
void embedding_backward(const int32_t* tokens, int64_t n, const T* dout, int64_t vocab_begin,
                        int64_t vocab_local, int64_t h, T* dtable) {
  for (int64_t i = 0; i < n; ++i) {  // token order: deterministic accumulation
    const int64_t row = tokens[i] - vocab_begin;
    if (row < 0 || row >= vocab_local) continue;
    for (int64_t j = 0; j < h; ++j) dtable[row * h + j] += dout[i * h + j];
  }
}

template <class T>
void ce_row_max(const T* logits, int64_t n, int64_t v, T* row_max) {
  for (int64_t i = 0; i < n; ++i) row_max[i] = *std::max_element(logits + i * v, logits + (i + 1) * v);
}

template <class T>
void ce_sumexp_target(const T* logits, int64_t n, int64_t v, const T* row_max,
                      const int32_t* targets, int64_t vocab_begin, T* sumexp, T* target_logit) {
  for (int64_t i = 0; i < n; ++i) {
    const T* row = logits + i * v;
    T s = 0;
    for (int64_t j = 0; j < v; ++j) s += std::exp(row[j] - row_max[i]);
    sumexp[i] = s;
    const int64_t t = targets[i] - vocab_begin;
    target_logit[i] = (t >= 0 && t < v) ? row[t] : T(0);
  }
}

template <class T>
void ce_backward(T* logits, int64_t n, int64_t v, const T* row_max, const T* sumexp,
                 const int32_t* targets, int64_t vocab_begin, T scale) {
  for (int64_t i = 0; i < n; ++i) {
    T* row = logits + i * v;
    for (int64_t j = 0; j < v; ++j) row[j] = std::exp(row[j] - row_max[i]) / sumexp[i] * scale;
    const int64_t t = targets[i] - vocab_begin;
    if (t >= 0 && t < v) row[t] -= scale;
  }
}

#define SHARDPLAN_INSTANTIATE(T)                                                             \
  template void embedding_forward<T>(const int32_t*, int64_t, const T*, int64_t, int64_t,  \
                                     int64_t, T*);                                         \
  template void embedding_backward<T>(const int32_t*, int64_t, const T*, int64_t, int64_t, \
                                      int64_t, T*);                                        \
  template void ce_row_max<T>(const T*, int64_t, int64_t, T*);                             \
  template void ce_sumexp_target<T>(const T*, int64_t, int64_t, const T*, const int32_t*,  \
                                    int64_t, T*, T*);                                      \
  template void ce_backward<T>(T*, int64_t, int64_t, const T*, const T*, const int32_t*,   \
                               int64_t, T);
SHARDPLAN_INSTANTIATE(float)
SHARDPLAN_INSTANTIATE(double)
#undef SHARDPLAN_INSTANTIATE

}  // namespace shardplan::executor
