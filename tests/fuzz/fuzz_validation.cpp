// Fuzzes the validation-row loader (costmodel/validation.hpp: validation/*.json).
#include "costmodel/validation.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardplan_fuzz::run_loader(data, size, [](const std::string& text) {
    using shardplan_fuzz::check;
    const auto rows = shardplan::validation_rows_from_text(text, "fuzz.json");
    for (const auto& r : rows) {
      check(r.gpus > 0 && r.strategy.global_batch > 0, "positive sizes");
      check(r.strategy.seq_len == r.model.seq_len, "the row's strategy runs at the model's seq_len");
    }
  });
}
