// Issue 3: "Model every flag physically; a flag that changes nothing in the prediction is a bug."
// Each strategy key of the estimate contract, changed one at a time from a plan where it has work
// to do, must move the estimate (step time or peak memory) and, where it changes time, the
// simulated step as well, in the direction the physics says.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "tests/simulator/predict_fixture.hpp"

using namespace shardplan;

namespace {
struct Prediction {
  double step_s = 0, peak_bytes = 0, simulated_s = 0;
};

Prediction predict(const char* model, int64_t gpus, int64_t global_batch, const std::string& strategy) {
  const testing::Predicted p = testing::estimate_and_simulate(model, "dgx-h100", gpus, global_batch, strategy);
  return {p.estimate.step_time_s, p.estimate.peak_memory_bytes, p.simulated.step_time_s};
}

enum class Moves { faster, slower, memory_only };

struct Toggle {
  const char* what;
  const char* model;
  int64_t gpus, global_batch;
  std::string base, changed;
  Moves moves;
  bool less_memory = false;  // checked when the change must lower the peak
};

void check_toggle(const Toggle& t) {
  INFO(t.what, ": ", t.base, "  ->  ", t.changed);
  const Prediction a = predict(t.model, t.gpus, t.global_batch, t.base);
  const Prediction b = predict(t.model, t.gpus, t.global_batch, t.changed);
  INFO("step ", a.step_s, " -> ", b.step_s, " s; simulated ", a.simulated_s, " -> ", b.simulated_s,
       " s; peak ", a.peak_bytes, " -> ", b.peak_bytes, " B");
  const double rel = 1e-6;
  switch (t.moves) {
    case Moves::faster:
      CHECK(b.step_s < a.step_s * (1 - rel));
      CHECK(b.simulated_s < a.simulated_s * (1 - rel));
      break;
    case Moves::slower:
      CHECK(b.step_s > a.step_s * (1 + rel));
      CHECK(b.simulated_s > a.simulated_s * (1 + rel));
      break;
    case Moves::memory_only:
      CHECK(std::abs(b.peak_bytes / a.peak_bytes - 1) > rel);
      break;
  }
  if (t.less_memory) CHECK(b.peak_bytes < a.peak_bytes * (1 - rel));
}
}  // namespace

TEST_CASE("flags: every strategy key moves the prediction where it has work to do") {
  // Llama 3 8B on 16 H100s (two DGX nodes): dense, GQA, tp inside a node.
  const char* dense = "llama3-8b";
  const std::string d = "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1";
  const Toggle toggles[] = {
      {"sequence parallelism keeps 1/tp of the norm and dropout activations", dense, 16, 64, d,
       "tp=4,pp=2,zero=1,recompute=selective,mbs=1", Moves::memory_only},
      {"ZeRO-1 shards the optimizer states", dense, 16, 64, "tp=4,pp=2,sp,zero=0,recompute=selective,mbs=1", d,
       Moves::memory_only, true},
      {"full recompute re-runs each layer's forward", dense, 16, 64, d,
       "tp=4,pp=2,sp,zero=1,recompute=full,mbs=1", Moves::slower, true},
      // With fused attention, selective recompute saves only the softmax statistics (Q, K, V and
      // the output are kept by the neighbouring linears anyway): it costs a second attention
      // forward and buys next to no memory.
      {"no recompute skips the second attention forward", dense, 16, 64, d,
       "tp=4,pp=2,sp,zero=1,recompute=none,mbs=1", Moves::faster},
      {"op-level selective recompute (torchtitan) re-runs some ops", dense, 16, 64,
       "tp=4,pp=2,sp,zero=1,recompute=none,mbs=1", "tp=4,pp=2,sp,zero=1,recompute=op,mbs=1", Moves::slower, true},
      // Without a pipeline (with one, 2x the micro-batch doubles the bubble's share here: slower).
      {"a larger micro-batch runs larger GEMMs and fewer of them", dense, 16, 64,
       "tp=4,sp,zero=1,recompute=selective,mbs=1", "tp=4,sp,zero=1,recompute=selective,mbs=2", Moves::faster},
      {"interleaving shrinks the bubble", dense, 16, 64, d,
       "tp=4,pp=2,vp=2,sp,zero=1,recompute=selective,mbs=1,schedule=interleaved", Moves::faster},
      {"GPipe holds every micro-batch's activations", dense, 16, 64, d,
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1,schedule=gpipe", Moves::memory_only},
      {"zero-bubble ZB-H1 fills the bubble with weight gradients", dense, 16, 64, d,
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1,schedule=zb", Moves::faster},
      {"TP communication overlapped with the GEMMs", dense, 16, 64, d,
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1,tp_comm_overlap", Moves::faster},
      {"unfused attention is slower and keeps the score matrix", dense, 16, 64, d,
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1,flash_attention=off", Moves::slower},
      {"FlashAttention-2 is slower than cuDNN's kernel on Hopper", dense, 16, 64, d,
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1,attention_kernel=fa2", Moves::slower},
      {"FlashAttention-3 is faster than cuDNN's kernel on Hopper", dense, 16, 64, d,
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1,attention_kernel=fa3", Moves::faster},
      {"the TP input-gradient reduction waits for its GEMM without async backward", dense, 16, 64,
       "tp=4,pp=2,zero=1,recompute=selective,mbs=1", "tp=4,pp=2,zero=1,recompute=selective,mbs=1,async_tp_backward=off",
       Moves::slower},
      {"context parallelism halves each GPU's sequence and exchanges K/V", dense, 16, 64,
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1", "tp=4,pp=1,cp=2,sp,zero=1,recompute=selective,mbs=1",
       Moves::memory_only},
      {"FP8 GEMMs run at twice the tensor rate", dense, 16, 64, d,
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1,precision=fp8", Moves::faster},
      {"FP8 weights gathered in FP8 drop the 16-bit copy", dense, 16, 64,
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1,precision=fp8",
       "tp=4,pp=2,sp,zero=1,recompute=selective,mbs=1,precision=fp8,fp8_param_gather", Moves::memory_only, true},
      // Data parallelism across nodes, no pipeline: the gradient reduction crosses the network.
      {"bf16 gradient reduction halves the gradients and their traffic", dense, 16, 256,
       "tp=2,zero=1,recompute=selective,mbs=1,overlap_grad_reduce=off",
       "tp=2,zero=1,recompute=selective,mbs=1,overlap_grad_reduce=off,grad_reduce=bf16", Moves::faster, true},
      {"the gradient reduction after the backward is exposed", dense, 16, 64,
       "tp=2,zero=1,recompute=selective,mbs=1", "tp=2,zero=1,recompute=selective,mbs=1,overlap_grad_reduce=off",
       Moves::slower},
      {"ZeRO-3 re-gathers the weights around every pass", dense, 16, 64,
       "tp=2,zero=1,recompute=selective,mbs=1", "tp=2,zero=3,recompute=selective,mbs=1", Moves::slower, true},
      {"ZeRO-2 shards the gradients", dense, 16, 64, "tp=2,zero=1,recompute=selective,mbs=2",
       "tp=2,zero=2,recompute=selective,mbs=2", Moves::memory_only, true},
      {"DeepSpeed's ZeRO-3 gathers linear by linear, and again for the recomputed forward", dense, 16, 64,
       "tp=2,zero=3,recompute=full,mbs=1", "tp=2,zero=3,recompute=full,mbs=1,zero3_impl=deepspeed", Moves::slower},
      {"DeepSpeed 0.3-0.5 loops over the ranks on the host for every parameter", dense, 16, 64,
       "tp=2,zero=3,recompute=full,mbs=1,zero3_impl=deepspeed",
       "tp=2,zero=3,recompute=full,mbs=1,zero3_impl=deepspeed-2021", Moves::slower},
  };
  for (const Toggle& t : toggles) check_toggle(t);
}

TEST_CASE("flags: the expert-parallel keys move a MoE prediction") {
  // Mixtral 8x7B on 16 H100s: 8 experts, top 2.
  const char* moe = "mixtral-8x7b";
  const std::string base = "tp=2,pp=2,ep=4,sp,zero=1,recompute=selective,mbs=1";
  const Toggle toggles[] = {
      {"expert parallelism spreads the experts over more GPUs", moe, 16, 64,
       "tp=2,pp=2,ep=2,sp,zero=1,recompute=selective,mbs=1", base, Moves::memory_only, true},
      {"the all-to-all of one micro-batch hidden behind another's compute", moe, 16, 64, base,
       base + ",ep_comm_overlap", Moves::faster},
  };
  for (const Toggle& t : toggles) check_toggle(t);
}
