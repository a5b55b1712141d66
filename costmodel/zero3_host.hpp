// What a ZeRO-3 collective costs beyond its bytes, per implementation (core/zero3_impl.hpp).
//
// deepspeed-2021 gathers each parameter by itself (partition_parameters.py _allgather_param at
// v0.3.13): torch.cuda.synchronize(), then a Python loop over the world size building the output
// list (a narrow and a get_rank per rank), then torch.distributed.all_gather on that list, which
// PyTorch 1.8's ProcessGroupNCCL runs into one flat buffer and copies back rank by rank (a
// select, a recordStream and a copy_ per rank); the gradients go back through
// _reduce_scatter_gradient, the same loop and the same per-rank copies into a flat input. With
// the device drained before each gather, that host time is on the critical path.
//   per rank: narrow 3.3 us (PyTorch operator micro-benchmark of a view op on CUDA, PR #32194) +
//   get_rank 1.5 + select 1 + recordStream 1 + copy_ 4.5 (eager dispatch of the smallest op,
//   dev-discuss "Micro-optimizations for the most micro of benchmarks") + its cudaMemcpyAsync
//   launch 2.5 = 13.8 us at desktop clocks; 16 us on the 2.25-3.4 GHz EPYC 7742 of a DGX A100 (an
//   estimate, not a measurement). Checked, not fitted, on the six ZeRO-3 rows of Narayanan et al.
//   Table 2 (384 to 2240 ranks): mean error 43.0% without this host time, 11.3% with 16 us
//   (17.7% with 10 us, 10.4% with 20 us).
//   per collective: 380 us at 8 ranks (DeepSpeed issue #1069, zarzen, one p4d node, v0.3.16 /
//   PyTorch 1.8: "pre_launch typically takes 130us, the launch takes 250us") less 8 x 16 us of
//   the per-rank part: 250 us.
// deepspeed (v0.5.5 on, PR #1188: coalesced gathers through _all_gather_base) and fsdp issue one
// flat collective each: nothing beyond NCCL's own latency.
#pragma once
#include <cstdint>

#include "core/zero3_impl.hpp"

namespace shardplan {

inline constexpr double kDeepSpeed2021PerCollectiveS = 250e-6;
inline constexpr double kDeepSpeed2021PerRankS = 16e-6;

// Host time of one collective over `ranks` (none with a single rank: DeepSpeed skips it).
inline double zero3_host_s(Zero3Impl impl, int64_t ranks) {
  return impl == Zero3Impl::deepspeed_2021 && ranks > 1
             ? kDeepSpeed2021PerCollectiveS + double(ranks) * kDeepSpeed2021PerRankS
             : 0;
}

}  // namespace shardplan
