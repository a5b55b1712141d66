// Hugging Face config.json -> ModelSpec, detected by `model_type`: llama, mistral, mixtral, qwen2,
// qwen3, qwen3_moe, deepseek_v3, gpt2, gpt_neox. Maps every field that changes cost.
#pragma once
#include "core/json_reader.hpp"
#include "core/model_spec.hpp"

namespace shardplan {

const std::vector<std::string>& hf_model_types();
// `seq_len_override` > 0 replaces max_position_embeddings / n_positions.
ModelSpec model_spec_from_hf(const JsonObject& config, int64_t seq_len_override);

}  // namespace shardplan
