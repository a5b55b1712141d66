// Fuzzes the transformer spec loader (core/model_spec.hpp): an accepted spec must write back to
// text that reads back to the same spec.
#include "core/model_spec.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardplan_fuzz::run_loader(data, size, [](const std::string& text) {
    const shardplan::ModelSpec spec = shardplan::model_spec_from_json_text(text, "fuzz.json");
    const std::string again = shardplan::model_spec_to_json_text(spec);
    shardplan_fuzz::check(shardplan::model_spec_from_json_text(again, "again.json") == spec,
                          "model spec round trip");
  });
}
