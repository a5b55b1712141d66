// The decoder's parameters: names, full shapes, how TP splits each one, and their deterministic
// initial values. A value depends only on (seed, name, global row, col), so every plan starts
// from bit-identical weights whatever its TP/PP/DP/ZeRO sharding.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_spec.hpp"

namespace shardplan::executor {

// TP split of a full [rows, cols] tensor. Linear weights are [in, out] (y = x·W): column-parallel
// layers split cols, row-parallel ones split rows; vocab tables [vocab, hidden] split rows.
enum class TpSplit { replicated, rows, cols };
enum class ParamInit { normal, ones, zeros };

struct ParamSpec {
  std::string name;       // e.g. "layers.3.attn.wq"
  std::string init_name;  // the random stream (a tied head copy reuses "embed.weight")
  int64_t rows = 0, cols = 0;  // full shape; 0 rows: the slot is absent in this model
  TpSplit split = TpSplit::replicated;
  ParamInit init = ParamInit::zeros;
  double init_std = 0;
  bool weight_decay = false;  // matrices decay; norms do not

  bool present() const { return rows > 0; }
  int64_t local_rows(int64_t tp) const { return split == TpSplit::rows ? rows / tp : rows; }
  int64_t local_cols(int64_t tp) const { return split == TpSplit::cols ? cols / tp : cols; }
  int64_t local_numel(int64_t tp) const { return local_rows(tp) * local_cols(tp); }
};

// Fixed slots of a transformer block (absent ones, like ln1_b under RMSNorm, have 0 rows).
enum BlockSlot { kLn1W = 0, kLn1B, kWq, kWk, kWv, kWo, kLn2W, kLn2B, kW1, kW3, kW2, kBlockSlots };
// Slots of the final norm and of a vocab table (embedding or head).
enum NormSlot { kNormW = 0, kNormB };

std::vector<ParamSpec> block_param_specs(const ModelSpec& m, int64_t layer);
std::vector<ParamSpec> embedding_param_specs(const ModelSpec& m);
std::vector<ParamSpec> final_norm_param_specs(const ModelSpec& m);
// The LM head [vocab, hidden]; with tied embeddings on another stage, a copy of embed.weight.
std::vector<ParamSpec> head_param_specs(const ModelSpec& m);

// Initial value of element (row, col) of the full tensor: N(0, std²) via a counter-based hash.
double init_value(const ParamSpec& p, uint64_t seed, int64_t row, int64_t col);
// The global (row, col) of local element `i` of TP rank `tp_idx`'s shard.
void global_position(const ParamSpec& p, int64_t tp_idx, int64_t tp, int64_t i, int64_t& row,
                     int64_t& col);

uint64_t hash64(uint64_t x);  // splitmix64 finaliser
uint64_t hash_string(const std::string& s);

}  // namespace shardplan::executor
