// Fuzzes the strategy-string parser (core/strategy.hpp): an accepted string must print back to
// a string that parses to the same strategy.
#include "core/strategy.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardplan_fuzz::run_loader(data, size, [](const std::string& text) {
    using shardplan_fuzz::check;
    shardplan::Strategy base;
    base.global_batch = 1024;
    const shardplan::Strategy s = shardplan::parse_strategy_string(text, base);
    check(s.dp > 0 && s.tp > 0 && s.pp > 0 && s.cp > 0 && s.ep > 0 && s.vp > 0 && s.micro_batch > 0,
          "positive degrees");
    check(s.zero >= 0 && s.zero <= 3, "ZeRO stage in 0..3");
    // The printed form omits precision; carry it over from the parsed strategy.
    shardplan::Strategy base2 = base;
    base2.precision = s.precision;
    check(shardplan::parse_strategy_string(shardplan::strategy_to_string(s), base2) == s, "strategy round trip");
  });
}
