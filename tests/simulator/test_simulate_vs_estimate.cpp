// The simulator against the analytic estimate on plans whose data-parallel traffic runs every
// micro-batch (ZeRO-2/3, FSDP): both should see the same physics, the simulator event by event.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "tests/approx.hpp"
#include "tests/simulator/predict_fixture.hpp"

using namespace shardplan;

namespace {
// `strategy` ("tp=8,zero=3,...", dp filling the GPUs) of `model` on `gpus` of `cluster`: the
// simulated step within 3% of the estimate.
void check_agree(const char* model, const char* cluster, int64_t gpus, int64_t global_batch,
                 const std::string& strategy) {
  const testing::Predicted p = testing::estimate_and_simulate(model, cluster, gpus, global_batch, strategy);
  INFO(model, " on ", gpus, " ", cluster, ": ", strategy);
  INFO("estimate ", p.estimate.step_time_s, " s, simulated ", p.simulated.step_time_s, " s");
  CHECK(std::abs(p.simulated.step_time_s / p.estimate.step_time_s - 1) < 0.03);
}
}  // namespace

TEST_CASE("simulate vs estimate: ZeRO-2/3 with many micro-batches agree within 3%") {
  // Llama 3 on 64 H100s, 2 to 32 micro-batches per step. Per micro-batch the 70B tp 8 ZeRO-3 plan
  // moves about as many NIC bytes (two parameter gathers and a gradient reduce-scatter of 8.8B
  // parameters over 8 nodes) as its compute takes, so where the traffic sits matters: run as one
  // block before each pass the simulator put the reduce-scatter before the backward and came out
  // 20% slower than the estimate (53.5 s against 44.7 s); unit by unit, as FSDP runs it, they agree.
  for (const char* s : {"tp=8,zero=3,recompute=full,mbs=1", "tp=4,zero=3,recompute=full,mbs=1",
                        "tp=8,zero=2,recompute=full,mbs=1", "tp=8,zero=3,recompute=full,mbs=1,overlap_grad_reduce=off"})
    check_agree("llama3-70b", "dgx-h100", 64, 256, s);
  for (const char* s : {"tp=1,zero=3,recompute=selective,mbs=1", "tp=1,zero=3,recompute=selective,mbs=2"})
    check_agree("llama3-8b", "dgx-h100", 64, 256, s);
}

TEST_CASE("simulate vs estimate: ZeRO-3 under PP with zero-bubble passes agree within 3%") {
  // GPT-3 175B on 512 A100s, tp 4, pp 8, cp 2, ZB-H1: the parameters are gathered before each
  // backward, one unit ahead, so they hide in the B pass alone (W deferred), which is shorter than
  // they are; charging them against B + W made the estimate 13% faster than the simulator.
  check_agree("gpt3-175b", "dgx-a100", 512, 1536, "tp=4,pp=8,cp=2,sp,zero=3,recompute=none,mbs=3,schedule=zb");
}

TEST_CASE("simulate vs estimate: ZeRO-2's reduce-scatter hides in its own backward, the next forward waits") {
  // GPT-3 175B on 256 A100s, tp 8, no pipeline, ZeRO-2, 8 or 16 micro-batches: each micro-batch's
  // gradient reduce-scatter (21.9B parameters in fp32 over 32 nodes) outlasts its backward. The
  // backward's end waits for it (DeepSpeed synchronizes the device there, stage_1_and_2.py
  // independent_gradient_partition_epilogue; FSDP2's finalize_backward waits on it), and within
  // the backward a unit waits for the reduce-scatter two units before it, so the unsharded
  // gradients of at most two units are alive. An earlier model let the reduction run on beside
  // the next forward, and the simulator let units pile up unreduced (23 GiB of gradients beyond
  // the memory counted, on Llama 2 7B at dp 64).
  for (const char* s : {"tp=8,sp,zero=2,recompute=none,mbs=1", "tp=8,sp,zero=2,recompute=full,mbs=2",
                        "tp=4,cp=2,sp,zero=2,recompute=none,mbs=2"})
    check_agree("gpt3-175b", "dgx-a100", 256, 512, s);
  check_agree("llama2-7b", "dgx-h100", 64, 128, "tp=1,zero=2,recompute=none,mbs=1");
  // Under ZB-H1 (pp 1 here) the gradients come from the W passes, which alone hide the reduction.
  check_agree("llama2-7b", "dgx-h100", 64, 256, "tp=1,zero=2,recompute=none,mbs=1,schedule=zb");
}
TEST_CASE("simulate vs estimate: gradients reduced in bf16 agree within 3%") {
  // Half the gradient bytes on the wire in both: ZeRO-2's per-micro-batch reduce-scatter and
  // ZeRO-1's once-per-step one.
  for (const char* s : {"tp=8,sp,zero=2,recompute=full,mbs=2,grad_reduce=bf16", "tp=8,pp=4,sp,zero=1,recompute=full,mbs=1,grad_reduce=bf16"})
    check_agree("gpt3-175b", "dgx-a100", 256, 512, s);
}

TEST_CASE("ZB-H1 with full recompute: a deferred W holds what its B rebuilt, in the estimate and the simulator") {
  // Llama 2 7B, tp 2, pp 4, 8 micro-batches. Stage i holds the checkpoints of its micro-batches in
  // flight (min(m, p) = 4) and, at the end of a B pass, the rebuilt layers of the min(m, i + 1)
  // micro-batches whose W is pending (i deferred, plus the one just run: even stage 0's "B0 W0"
  // holds it). With a checkpoint plus its rebuilt layers being what no recompute saves, the last
  // stage holds exactly what it holds without recompute; the first, 4 checkpoints and 1 rebuilt.
  // Before, every deferred W was counted as its checkpoint alone: stage 3 was 6 GiB short.
  const testing::Predicted full = testing::estimate_and_simulate("llama2-7b", "dgx-h100", 8, 16,
                                                                 "tp=2,pp=4,sp,recompute=full,mbs=1,schedule=zb");
  const testing::Predicted none = testing::estimate_and_simulate("llama2-7b", "dgx-h100", 8, 16,
                                                                 "tp=2,pp=4,sp,recompute=none,mbs=1,schedule=zb");
  const auto act = [](const testing::Predicted& p, size_t i) { return p.estimate.stages[i].activations_bytes; };
  CHECK(act(full, 3) == testing::rel(act(none, 3)));
  // Stage 1 (no embedding or head): 4 checkpoints + 2 rebuilt, where no recompute holds 4 whole.
  const double whole = act(none, 1) / 4, ckpt = (3 * act(full, 1) - 2 * act(full, 2)) / 4;
  CHECK(act(full, 1) == testing::rel(4 * ckpt + 2 * (whole - ckpt)));
  CHECK(act(full, 2) == testing::rel(4 * ckpt + 3 * (whole - ckpt)));
  CHECK(act(full, 0) < act(full, 1));
  // The simulator's memory walk peaks at the same bytes.
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(full.simulated.peak_memory_bytes[i] == testing::rel(full.estimate.stages[i].total_bytes));
  }
}

TEST_CASE("simulate vs estimate: under ZB-H1 the later stages' DP reduction has only stage 0's last W to hide in") {
  // Llama 2 7B on 128 H100s, pp 4, ZB-H1: the stages after the first run their deferred W passes
  // in the drain and reduce after the last one (align_grad_reduce), about when stage 0 starts its
  // final W. Hidden behind a whole backward, as stage 0's is, the estimate was 5% faster than
  // the simulator (ZeRO-1; 4% with ZeRO-0).
  for (const char* s : {"tp=1,pp=4,zero=1,recompute=none,mbs=1,schedule=zb", "tp=1,pp=4,zero=0,recompute=none,mbs=1,schedule=zb"})
    check_agree("llama2-7b", "dgx-h100", 128, 128, s);
}
