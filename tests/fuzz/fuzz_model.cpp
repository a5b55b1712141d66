// Fuzzes the one entry point for models (graph/model_loader.hpp): transformer spec, Hugging Face
// config.json or explicit op graph. An accepted model must have blocks and finite, non-negative
// parameter, FLOP and byte counts.
#include "fuzz_common.hpp"
#include "graph/model_loader.hpp"
#include "graph/model_stats.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardplan_fuzz::run_loader(data, size, [](const std::string& text) {
    using shardplan_fuzz::check;
    using shardplan_fuzz::finite_nonnegative;
    const shardplan::LoadedModel m = shardplan::load_model_text(text, "fuzz.json");
    check(!m.graph.blocks.empty() && m.graph.op_count() > 0, "a loaded model has blocks and ops");
    check(m.graph.seq_len > 0, "positive seq_len");
    const shardplan::ModelStats st = shardplan::model_stats(m.graph);
    check(finite_nonnegative(st.params) && finite_nonnegative(st.active_params), "finite params");
    check(finite_nonnegative(st.train_flops_per_token), "finite training FLOPs");
    check(finite_nonnegative(st.weight_bytes) && finite_nonnegative(st.adam_bytes), "finite bytes");
    for (const auto& b : m.graph.blocks)
      check(finite_nonnegative(b.saved_bytes_per_token) && finite_nonnegative(b.boundary_bytes_per_token),
            "finite activation bytes");
  });
}
