// Contiguous partition of blocks into pipeline chunks minimising the slowest chunk (dynamic
// programming over the blocks in model order), optionally under a per-chunk memory limit.
#pragma once
#include <cstdint>
#include <vector>

namespace shardplan {

// Chunk c holds blocks [bounds[c], bounds[c+1]). Empty when no partition satisfies the limits
// (or chunks > blocks). `mem[b]` and `mem_limit` may be empty / <= 0 to ignore memory.
std::vector<int64_t> min_max_partition(const std::vector<double>& cost, int64_t chunks,
                                       const std::vector<double>& mem = {}, double mem_limit = 0);

// Megatron's split: the layers divided evenly, the embedding with the first chunk and the head
// with the last. `layer_blocks` = blocks - 2. Requires layer_blocks % chunks == 0.
std::vector<int64_t> even_layer_partition(int64_t blocks, int64_t chunks);

}  // namespace shardplan
