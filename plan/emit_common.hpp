// Shared by the emitters (internal to plan/): collecting what a framework lacks, the plan summary
// for header comments, and the model's layers per pipeline chunk.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "plan/plan.hpp"

namespace shardplan::emit {

// Collects every missing capability, then throws one UsageError listing them all.
class Gaps {
 public:
  explicit Gaps(std::string framework) : framework_(std::move(framework)) {}
  // Records `lack` ("no GPipe schedule (...); re-plan with --schedule 1f1b") unless `ok`.
  void need(bool ok, const std::string& lack) {
    if (!ok) lacks_.push_back(lack);
  }
  void throw_if_any() const;

 private:
  std::string framework_;
  std::vector<std::string> lacks_;
};

// The transformer spec, or a recorded gap (explicit op graphs map onto no framework's model).
const ModelSpec* require_spec(const Plan& p, Gaps& gaps);

// What one pipeline chunk holds, in model order.
struct ChunkBlocks {
  bool embedding = false, head = false;
  int64_t first_layer = 0, layers = 0;  // transformer layers [first_layer, first_layer + layers)
};
std::vector<ChunkBlocks> chunk_blocks(const Plan& p);  // indexed by chunk c = v*pp + stage
// True when every chunk has layers/(pp*vp) layers, the embedding in chunk 0 and the head in
// the last chunk: the split frameworks make by default.
bool even_layer_split(const Plan& p);
std::string layers_per_chunk_text(const Plan& p);  // "5,6,6,5" (chunk order)

// Header comment lines (without the comment marker): what, for which plan, predicted what.
std::vector<std::string> summary_lines(const Plan& p, const std::string& framework);
// The prediction's step time, tokens/s, MFU and peak memory as one line.
std::string prediction_line(const Plan& p);
// Prefixes each line with `marker` ("# ").
std::string comment_block(const std::vector<std::string>& lines, const std::string& marker);
// Megatron's and Megatron-DeepSpeed's RoPE base flags are integers: the base as written (rounded)
// and, where that rounds a fractional base, the note that says so (`flag` names the argument).
std::string rope_base_arg(const ModelSpec& m, const std::string& flag, std::vector<std::string>& notes);


}  // namespace shardplan::emit
