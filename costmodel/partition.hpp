// Contiguous partition of blocks into pipeline chunks minimising the slowest chunk (dynamic
// programming over the blocks in model order), optionally under a per-chunk memory limit.
#pragma once
#include <cstdint>
#include <vector>

namespace shardplan {

// Per-chunk memory limits: chunk c holding blocks [j, i) needs
//   sum(fixed[j..i)) + scale[c] * sum(scaled[j..i))  <=  limit[c]
// (a pipeline stage: model states of its blocks, plus its activations times the micro-batches the
// schedule keeps in flight on that stage, under what its GPU has left after fixed overheads).
struct ChunkMemoryLimits {
  std::vector<double> fixed, scaled;  // per block, >= 0
  std::vector<double> scale, limit;   // per chunk
};

// Chunk c holds blocks [bounds[c], bounds[c+1]). Empty when no partition satisfies the limits
// (or chunks > blocks). Without `limits` memory is ignored.
std::vector<int64_t> min_max_partition(const std::vector<double>& cost, int64_t chunks,
                                       const ChunkMemoryLimits* limits = nullptr);
// Whether any cut of the blocks into `chunks` runs meets the limits, in O(blocks): exact when each
// chunk's limit is at least as loose as the one before (scale non-increasing, limit non-decreasing,
// as a 1F1B pipeline's stages are), else true (unknown; min_max_partition decides).
bool memory_cut_possible(const ChunkMemoryLimits& limits, int64_t chunks);

// One limit for every chunk: sum(mem[j..i)) <= mem_limit (ignored when mem is empty or the limit <= 0).
std::vector<int64_t> min_max_partition(const std::vector<double>& cost, int64_t chunks,
                                       const std::vector<double>& mem, double mem_limit);

// Megatron's split: the layers divided evenly, the embedding with the first chunk and the head
// with the last. `layer_blocks` = blocks - 2. Requires layer_blocks % chunks == 0.
std::vector<int64_t> even_layer_partition(int64_t blocks, int64_t chunks);

}  // namespace shardplan
