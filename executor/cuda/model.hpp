// The decoder on one GPU rank, mirroring the CPU backend (executor/unit.hpp, block.hpp,
// embed_head.hpp) with the same parameters, sharding and communication: DUnit keeps a unit's
// bf16 working parameters, float master weights, float gradients and AdamW states under ZeRO
// 0-3; the block and the model ends run in bf16 with float accumulation (kernels.hpp, gemm.hpp).
// Precision: activations and everything fed to a GEMM are bf16; norm statistics, the softmax
// statistics, the residual-stream gradient, the row-parallel GEMM outputs that TP reduces, the
// logits and all gradients of parameters are float. With the fused attention kernel selective
// recompute keeps everything (there is no S×S matrix to drop); with unfused attention
// (flash_attention off) it drops the probabilities, as the CPU backend; full keeps only x.
#pragma once
#include <memory>
#include <vector>

#include "executor/cuda/comm_device.hpp"
#include "executor/cuda/gemm.hpp"
#include "executor/layer_env.hpp"
#include "executor/unit.hpp"

namespace shardplan::executor::cuda {

struct CudaEnv {  // LayerEnv on the GPU
  Dims d;
  DeviceComm* tp = nullptr;
  DeviceComm* dp = nullptr;
  MemoryTracker* mem = nullptr;
  Blas* blas = nullptr;
  Stream stream = nullptr;
  int tp_idx = 0;
  bool split_weight_grads = false;
  bool flash = true;  // fused attention; false: unfused through cuBLAS (attention.hpp)

  template <class T>
  DevBuf<T> buf(MemCategory c, int64_t n, bool zeroed = false) const {
    return DevBuf<T>(*mem, c, n, stream, zeroed);
  }
};

class DUnit {
 public:
  DUnit(std::vector<ParamSpec> specs, ShardCoords sh, const CudaEnv& env, uint64_t seed,
        bool norm_counted = true);
  int64_t numel() const { return numel_; }

  void acquire(DeviceComm& dp);  // ZeRO-3: all-gather the bf16 shards
  void release();
  const bf16* param(int i) const;
  void begin_grads();
  float* grad(int i);
  void end_grads(DeviceComm& dp);

  // The optimizer step, in this order (as the CPU Unit).
  void reduce_grads(DeviceComm& dp);
  void all_reduce_grads(DeviceComm& group);
  void grad_sumsq(double* acc) const;  // *acc (device) += Σ g² of what this rank counts
  void adamw(const AdamWConfig& cfg, int64_t step, double clip_scale);
  void finish_step(DeviceComm& dp);

  // Full tensors of the bf16 working parameters, as float (DP rank 0 only; collective under
  // ZeRO-3).
  void export_params(DeviceComm& dp, ParamStore<float>& out);

 private:
  int64_t owned_begin() const;
  int64_t owned_end() const;
  float* owned_grads();
  template <class F>
  void for_each_segment(int64_t b, int64_t e, F&& fn) const;

  std::vector<ParamSpec> specs_;
  std::vector<int64_t> offset_;
  ShardCoords sh_;
  CudaEnv env_;
  bool norm_counted_;
  int64_t numel_ = 0, shard_ = 0, padded_ = 0;
  DevBuf<bf16> params_;    // ZeRO < 3: [padded]; ZeRO 3: [shard]
  DevBuf<bf16> gathered_;  // ZeRO 3 while acquired: [padded]
  int acquired_ = 0;
  DevBuf<float> master_;     // float master weights of the owned range (optimizer state)
  DevBuf<float> grads_;      // ZeRO 0/1: [padded]; ZeRO 2/3: [shard] accumulator
  DevBuf<float> grad_full_;  // ZeRO 2/3 between begin/end_grads: [padded]
  int grad_users_ = 0;
  DevBuf<float> m_, v_;       // owned range
};

struct DBlockCtx {  // what one block keeps between forward and backward (BlockCtx on the GPU)
  DevBuf<bf16> x;
  bool complete = false;
  DevBuf<bf16> h1;
  DevBuf<float> mean1, rstd1;
  DevBuf<bf16> q, k, v, o;
  DevBuf<float> lse;   // fused attention: [micro_batch, heads_local, seq]
  DevBuf<bf16> probs;  // unfused attention, recompute none: [micro_batch, heads_local, seq, seq]
  DevBuf<bf16> x2, h2;
  DevBuf<float> mean2, rstd2;
  DevBuf<bf16> u1, u3, g;
  // Kept for the weight pass when weight grads are split off (zero-bubble):
  DevBuf<bf16> a_full, b_full, d_attn_out, dq, dk, dv, d_mlp_out, du1, du3;
  DevBuf<float> dln1w, dln1b, dln2w, dln2b;
};

// x [tokens_local, H] -> y [tokens_local, H]; acquires/releases u.
DevBuf<bf16> block_forward(const CudaEnv& env, DUnit& u, DevBuf<bf16> x, DBlockCtx& ctx);
// dy [tokens_local, H] (float) -> dx (float).
DevBuf<float> block_backward(const CudaEnv& env, DUnit& u, DBlockCtx& ctx, DevBuf<float> dy);
void block_weight_grads(const CudaEnv& env, DUnit& u, DBlockCtx& ctx);

// Norm helpers shared with the final norm.
void norm_forward(const CudaEnv& env, const DUnit& u, int w, int b, const bf16* x, bf16* y,
                  float* mean, float* rstd, int64_t rows);
void norm_backward(const CudaEnv& env, const DUnit& u, int w, const float* dy, const bf16* x,
                   const float* mean, const float* rstd, float* dx, float* dgamma, float* dbeta,
                   int64_t rows);
void apply_norm_grads(const CudaEnv& env, DUnit& u, int w, int b, DevBuf<float>& dw,
                      DevBuf<float>& db);

// TP/SP collectives (layer_env.hpp): gather [tokens_local, c] -> [tokens, c]; reduce a float
// partial [tokens, c] to [tokens_local, c].
template <class T>
DevBuf<T> tp_gather(const CudaEnv& env, const T* x, int64_t cols, MemCategory category);
DevBuf<float> tp_reduce(const CudaEnv& env, DevBuf<float> partial, int64_t cols,
                        MemCategory category);
// x (float, [rows, cols]) as bf16; under SP gathered over TP first.
DevBuf<bf16> gathered_bf16(const CudaEnv& env, const DevBuf<float>& x, int64_t cols);

// ---- the model's ends (embed_head.hpp) ----
// tokens: the micro-batch on the device [tokens] -> x [tokens_local, H].
DevBuf<bf16> embed_forward(const CudaEnv& env, DUnit& table, const int32_t* d_tokens);
// host_tokens [tokens]: grouped by table row on the host for the deterministic scatter-add.
void embed_backward(const CudaEnv& env, DUnit& table, const std::vector<int32_t>& host_tokens,
                    const DevBuf<float>& dx);

struct DHeadCtx {
  DevBuf<bf16> x, hn;
  DevBuf<float> mean, rstd;
  DevBuf<bf16> dlogits;  // [tokens, vocab_local]
};
// Adds the micro-batch's summed token loss to *d_loss (device double; the same on every TP rank).
void head_forward(const CudaEnv& env, DUnit& norm, DUnit& table, DevBuf<bf16> x,
                  const int32_t* d_targets, double loss_scale, DHeadCtx& ctx, double* d_loss);
DevBuf<float> head_backward(const CudaEnv& env, DUnit& norm, DUnit& table, DHeadCtx& ctx);

// Local rows of the vocab shard [vocab_begin, vocab_begin + vocab_local) that `tokens` touch, in
// ascending order, with the token positions of each (CSR): the input of embedding_backward.
struct EmbeddingRows {
  std::vector<int32_t> rows, starts, positions;
};
EmbeddingRows embedding_rows(const std::vector<int32_t>& tokens, int64_t vocab_begin,
                             int64_t vocab_local);

}  // namespace shardplan::executor::cuda
