// Fuzzes the validation-row loader (costmodel/validation.hpp: validation/*.json, or any file
// given to `validate --dir`), then predicts each accepted row as `validate` does: the estimate
// must be finite and positive, or the row an InputError.
#include <cmath>

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
    for (size_t i = 0; i < rows.size() && i < 2; ++i) {
      const shardplan::ValidationResult v = shardplan::validate_row(rows[i]);
      check(std::isfinite(v.predicted) && v.predicted > 0, "a finite, positive prediction");
      check(std::isfinite(v.predicted_peak_memory_bytes) && v.predicted_peak_memory_bytes >= 0, "finite memory");
    }
  });
}
