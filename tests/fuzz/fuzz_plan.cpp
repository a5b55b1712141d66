// Fuzzes the plan-file reader (plan/plan.hpp): an accepted plan writes back to the same bytes
// of a document that reads back to the same plan.
#include "fuzz_common.hpp"
#include "plan/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardplan_fuzz::run_loader(data, size, [](const std::string& text) {
    const shardplan::Plan p = shardplan::plan_from_text(text, "fuzz.json");
    const std::string again = shardplan::plan_to_text(p);
    shardplan_fuzz::check(shardplan::plan_from_text(again, "again.json") == p, "plan round trip");
  });
}
