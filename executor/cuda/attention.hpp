// Unfused causal GQA attention through cuBLAS (Megatron before FlashAttention): the S×S scores
// of every head as strided-batched GEMMs, a masked softmax kernel, and P·V; backward as four
// GEMMs and the softmax backward kernel. Runs when the plan turns flash_attention off: tensor-core
// GEMMs at the price of the probabilities [batch, q_heads, seq, seq] (bf16) kept for backward
// (recompute=selective drops them and rebuilds them from q and k). Shapes as in kernels.hpp.
#pragma once
#include "executor/cuda/gemm.hpp"
#include "executor/kernels.hpp"
#include "executor/memory.hpp"

namespace shardplan::executor::cuda {

// probs [batch, q_heads, seq, seq] = causal softmax(q·kᵀ/√d).
void attention_probs(Blas& bl, MemoryTracker& mem, const AttnShape& s, const bf16* q, const bf16* k,
                     bf16* probs);
void unfused_attention_forward(Blas& bl, MemoryTracker& mem, const AttnShape& s, const bf16* q,
                               const bf16* k, const bf16* v, bf16* probs, bf16* out);
// dq, dk, dv overwritten (dk, dv summed over each kv head's query heads in float first).
void unfused_attention_backward(Blas& bl, MemoryTracker& mem, const AttnShape& s, const bf16* q,
                                const bf16* k, const bf16* v, const bf16* probs, const bf16* dout,
                                bf16* dq, bf16* dk, bf16* dv);

}  // namespace shardplan::executor::cuda
