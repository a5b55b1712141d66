// The CUDA backend's kernels, as host functions that launch on a stream: bf16 storage, float
// accumulation, float statistics, deterministic reductions (fixed trees, no atomics), so a plan
// run twice gives identical bits. Pointers are device pointers; shapes as in executor/kernels.hpp
// (row-major, `x [n, h]` = n tokens of h values). Gradients of the residual stream and of the
// parameters are float; everything fed to a GEMM is bf16.
#pragma once
#include <cstdint>

#include "executor/cuda/device.hpp"
#include "executor/kernels.hpp"

namespace shardplan::executor::cuda {

// ---- conversions and elementwise arithmetic ----
void f32_to_bf16(const float* x, bf16* y, int64_t n, Stream s);
void bf16_to_f32(const bf16* x, float* y, int64_t n, Stream s);
void add_f32(float* acc, const float* x, int64_t n, Stream s);                   // acc += x
void residual_add(const bf16* x, const float* d, bf16* y, int64_t n, Stream s);  // y = x + d

// ---- what the local communicator reduces with (acc is float for f32/bf16, double for f64) ----
enum class DevType { f32 = 0, f64, bf16 };
int64_t dev_type_bytes(DevType t);
void acc_load(void* acc, const void* x, DevType t, int64_t n, Stream s);              // acc = x
void acc_reduce(void* acc, const void* x, DevType t, int64_t n, bool max, Stream s);  // acc op= x
void acc_store(const void* acc, void* y, DevType t, int64_t n, Stream s);             // y = acc

// ---- norms: forward on bf16 with float stats; backward takes the float gradient dy, ADDS the
// input gradient into dx [n, h] (the residual stream) and the parameter gradients into
// dgamma/dbeta [h] (float) ----
void layernorm_forward(const bf16* x, const bf16* gamma, const bf16* beta, bf16* y, float* mean,
                       float* rstd, int64_t n, int64_t h, Stream s);
void layernorm_backward(const float* dy, const bf16* x, const bf16* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta, int64_t n,
                        int64_t h, Stream s);
void rmsnorm_forward(const bf16* x, const bf16* gamma, bf16* y, float* rstd, int64_t n, int64_t h,
                     Stream s);
void rmsnorm_backward(const float* dy, const bf16* x, const bf16* gamma, const float* rstd,
                      float* dx, float* dgamma, int64_t n, int64_t h, Stream s);

// ---- activations (backward overwrites its outputs) ----
void gelu_forward(const bf16* u, bf16* g, int64_t n, Stream s);
void gelu_backward(const bf16* dg, const bf16* u, bf16* du, int64_t n, Stream s);
void swiglu_forward(const bf16* gate, const bf16* up, bf16* g, int64_t n, Stream s);
void swiglu_backward(const bf16* dg, const bf16* gate, const bf16* up, bf16* dgate, bf16* dup,
                     int64_t n, Stream s);

// ---- causal GQA attention, fused (FlashAttention-2 style, online softmax, no S×S matrix) ----
// q, out: [batch·seq, q_heads·head_dim]; k, v: [batch·seq, kv_heads·head_dim];
// lse: [batch, q_heads, seq] (log-sum-exp of each query's scaled scores, kept for backward).
// head_dim must be a multiple of 8 and at most 128.
void flash_attention_forward(const AttnShape& sh, const bf16* q, const bf16* k, const bf16* v,
                             bf16* out, float* lse, Stream s);
// dq, dk, dv overwritten. Deterministic: dk/dv and dq are computed by separate passes.
void flash_attention_backward(const AttnShape& sh, const bf16* q, const bf16* k, const bf16* v,
                              const bf16* out, const bf16* dout, const float* lse, bf16* dq,
                              bf16* dk, bf16* dv, Stream s);

// ---- the pieces of unfused attention (attention.hpp runs the GEMMs through cuBLAS) ----
// probs [rows, S] = causal softmax of scale·scores [rows, S] (float), row r being query r % S;
// the masked entries are written as zeros.
void causal_softmax_forward(const float* scores, int64_t rows, int64_t S, float scale, bf16* probs,
                            Stream s);
// ds = P ∘ (dP - rowsum(dP ∘ P)) (bf16), from the float dP [rows, S] and the bf16 P.
void softmax_backward(const float* dprobs, const bf16* probs, int64_t rows, int64_t S, bf16* ds,
                      Stream s);

// ---- vocab-parallel embedding ----
// out [n, h] (float, the TP reduction's input): row tokens[i]-vocab_begin of this rank's table,
// or zeros for tokens another rank holds.
void embedding_forward(const int32_t* tokens, int64_t n, const bf16* table, int64_t vocab_begin,
                       int64_t vocab_local, int64_t h, float* out, Stream s);
// dtable[rows[r]] += Σ dout[positions[starts[r] .. starts[r+1])] in position order: the tokens
// grouped by local table row on the host (embedding_rows), so no two blocks touch one row.
void embedding_backward(const int32_t* rows, const int32_t* starts, const int32_t* positions,
                        int64_t nrows, const float* dout, int64_t h, float* dtable, Stream s);

// ---- vocab-parallel cross-entropy pieces over local float logits [n, v] (see
// executor/kernels.hpp for the protocol) ----
void ce_row_max(const float* logits, int64_t n, int64_t v, float* row_max, Stream s);
void ce_sumexp_target(const float* logits, int64_t n, int64_t v, const float* row_max,
                      const int32_t* targets, int64_t vocab_begin, float* sumexp,
                      float* target_logit, Stream s);
// *acc += Σ_i log(sumexp_i) + row_max_i - target_i, summed in double in a fixed order.
void ce_loss_sum(const float* row_max, const float* sumexp, const float* target_logit, int64_t n,
                 double* acc, Stream s);
// dlogits = (softmax - onehot)·scale, as bf16 for the head's backward GEMMs.
void ce_backward(const float* logits, int64_t n, int64_t v, const float* row_max,
                 const float* sumexp, const int32_t* targets, int64_t vocab_begin, float scale,
                 bf16* dlogits, Stream s);

// ---- optimizer ----
struct AdamWStep {  // one step's constants (executor/unit.cpp's update, in float)
  float lr = 0, beta1 = 0, beta2 = 0, eps = 0;
  float decay = 1;       // 1 - lr·weight_decay for matrices, 1 for norms
  float c1 = 1, c2 = 1;  // bias corrections 1 - beta^step
  float clip = 1;        // global-norm clipping factor
};
// master, m, v: float [n]; param: the bf16 working copy, rewritten from the new master.
void adamw_update(float* master, const float* grad, float* m, float* v, bf16* param, int64_t n,
                  const AdamWStep& c, Stream s);
// *acc += Σ x², in double, in a fixed order.
void sum_squares(const float* x, int64_t n, double* acc, Stream s);

// ---- parameter initialisation on the device (executor/params.cpp's init_value) ----
struct InitSlot {
  int mode = 0;       // 0 normal, 1 ones, 2 zeros
  uint64_t base = 0;  // hash64(seed ^ hash64(hash_string(init_name)))
  double std = 0;
  int64_t cols = 0;                        // full tensor's columns
  int64_t local_cols = 0;                  // this TP rank's columns
  int64_t row_offset = 0, col_offset = 0;  // where this TP rank's shard starts
};
// out[j] = value of local element first + j of the slot, j < count.
void init_slot(const InitSlot& slot, int64_t first, int64_t count, float* out, Stream s);

}  // namespace shardplan::executor::cuda
