// Gaps, summaries and per-chunk layer counts shared by the three emitters.
#include "plan/emit_common.hpp"

#include <fmt/format.h>

#include <cmath>

#include "core/error.hpp"

namespace shardplan::emit {

void Gaps::throw_if_any() const {
  if (lacks_.empty()) return;
  std::string msg = framework_ + " cannot run this plan: it has ";
  for (size_t i = 0; i < lacks_.size(); ++i) {
    if (i) msg += "; and ";
    msg += lacks_[i];
  }
  throw UsageError(msg);
}

const ModelSpec* require_spec(const Plan& p, Gaps& gaps) {
  gaps.need(p.model.spec.has_value(),
            "no model for an explicit op graph (the framework builds a decoder stack from its own "
            "description: Megatron's and DeepSpeed's flags, torchtitan's model args; plan a transformer "
            "spec or a Hugging Face config instead)");
  return p.model.spec ? &*p.model.spec : nullptr;
}

std::vector<ChunkBlocks> chunk_blocks(const Plan& p) {
  std::vector<ChunkBlocks> out;
  int64_t layer = 0;
  for (size_t c = 0; c + 1 < p.chunk_bounds.size(); ++c) {
    ChunkBlocks cb;
    cb.first_layer = layer;
    for (int64_t b = p.chunk_bounds[c]; b < p.chunk_bounds[c + 1]; ++b) {
      const std::string& name = p.blocks[static_cast<size_t>(b)];
      if (name == "embedding")
        cb.embedding = true;
      else if (name == "head")
        cb.head = true;
      else
        ++cb.layers, ++layer;
    }
    out.push_back(cb);
  }
  return out;
}

bool even_layer_split(const Plan& p) {
  const auto chunks = chunk_blocks(p);
  int64_t total = 0;
  for (const auto& c : chunks) total += c.layers;
  const int64_t n = static_cast<int64_t>(chunks.size());
  if (total % n != 0) return false;
  for (int64_t i = 0; i < n; ++i) {
    const ChunkBlocks& c = chunks[static_cast<size_t>(i)];
    if (c.layers != total / n || c.embedding != (i == 0) || c.head != (i == n - 1)) return false;
  }
  return true;
}

std::string layers_per_chunk_text(const Plan& p) {
  std::string out;
  for (const auto& c : chunk_blocks(p)) {
    if (!out.empty()) out += ',';
    out += std::to_string(c.layers);
  }
  return out;
}

std::string prediction_line(const Plan& p) {
  const auto& j = p.prediction;
  auto num = [&](const char* k) {
    return j.contains(k) && j[k].is_number() ? j[k].get<double>() : 0.0;
  };
  return fmt::format(
      "predicted: {:.3f} s/step, {:.0f} tokens/s, MFU {:.1f}%, peak memory {:.2f} GiB/GPU",
      num("step_time_s"), num("tokens_per_s"), 100 * num("mfu"),
      num("peak_memory_bytes") / (1024.0 * 1024 * 1024));
}

std::vector<std::string> summary_lines(const Plan& p, const std::string& framework) {
  const Strategy& s = p.strategy;
  return {fmt::format("{} for plan {} on {} x {} ({}), written by shardplan", framework,
                      p.model.name, s.gpus(), p.cluster.gpu.name, p.cluster.name),
          fmt::format("strategy: {}", strategy_to_string(s)),
          fmt::format("global batch {} x {} tokens, {} micro-batches of {} per replica",
                      s.global_batch, s.seq_len, s.micro_batches(), s.micro_batch),
          prediction_line(p)};
}

std::string comment_block(const std::vector<std::string>& lines, const std::string& marker) {
  std::string out;
  for (const auto& l : lines) out += marker + l + "\n";
  return out;
}

std::string rope_base_arg(const ModelSpec& m, const std::string& flag, std::vector<std::string>& notes) {
  const std::string base = fmt::format("{:.0f}", m.rope.theta);
  if (m.rope.theta != std::round(m.rope.theta))
    notes.push_back(fmt::format("{} takes an integer: the model's RoPE base {} runs as {}", flag, m.rope.theta, base));
  return base;
}

}  // namespace shardplan::emit
