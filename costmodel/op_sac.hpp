// torchtitan's op-level selective activation checkpointing (`[activation_checkpoint] mode =
// "selective", selective_ac_option = "op"`), tallied op by op over one transformer layer in
// forward order. Its policy (torchtitan/distributed/activation_checkpoint.py, since 2024) marks as
// MUST_SAVE the outputs of the ops in its save list (aten.mm, the fused SDPA kernels, the TP
// reduce-scatter, the EP all-to-all, aten.max), except every second aten.mm of the layer; all
// other ops are PREFER_RECOMPUTE: the checkpoint keeps the layer's input and the saved outputs and
// re-runs everything else at the start of the layer's backward (torch.utils.checkpoint,
// non-reentrant; torch.compile's partitioner honours the same tags). Routed experts run as
// grouped GEMMs, which the list leaves out: they are recomputed.
#pragma once
#include <cstdint>
#include <vector>

namespace shardplan {

struct OpSacTally {
  double saved_bytes = 0;      // MUST_SAVE outputs of the layer (its input not included)
  double recompute_s = 0;      // forward time of what the backward re-runs
  double recompute_flops = 0;  // its FLOPs (hardware FLOPs)
  int64_t mm_calls = 0;        // aten.mm calls so far in the layer

  // A linear layer, or a fused GEMM standing for several (`widths`: their output widths, each an
  // aten.mm call; one call of `total_width` when empty). Odd calls keep their output, at
  // `bytes_per_column` per output column; even calls are re-run, with their share of the GEMM's
  // forward time and FLOPs, and with `input_comm_s` (the sequence-parallel all-gather of the
  // input, which is not saved) when any part is re-run.
  void linear(const std::vector<int64_t>& widths, int64_t total_width, double bytes_per_column,
              double fwd_s, double fwd_flops, double input_comm_s) {
    const std::vector<int64_t> one{total_width};
    const std::vector<int64_t>& parts = widths.empty() ? one : widths;
    double rerun = 0;
    for (int64_t w : parts) {
      if (++mm_calls % 2 == 1) saved_bytes += double(w) * bytes_per_column;
      else rerun += double(w);
    }
    const double share = total_width > 0 ? rerun / double(total_width) : 0;
    recompute_s += fwd_s * share + (rerun > 0 ? input_comm_s : 0);
    recompute_flops += fwd_flops * share;
  }
  void saved(double bytes) { saved_bytes += bytes; }
  void recomputed(double fwd_s, double flops = 0) {
    recompute_s += fwd_s;
    recompute_flops += flops;
  }
};

}  // namespace shardplan
