// The strategy string ("tp=8,pp=8,mbs=1,recompute=selective,sp") and the data-parallel size: a
// malformed string or impossible sizes are a UsageError that says what is wrong, never a guess.
#include <doctest/doctest.h>

#include "core/error.hpp"
#include "core/strategy.hpp"

using namespace shardplan;

TEST_CASE("strategy string: items, flags and the keys' synonyms") {
  Strategy s = parse_strategy_string("tp=8,pp=4,mbs=2,recompute=selective,sp", Strategy{});
  CHECK(s.tp == 8);
  CHECK(s.pp == 4);
  CHECK(s.micro_batch == 2);
  CHECK(s.recompute == Recompute::selective);
  CHECK(s.sp);
  CHECK(parse_strategy_string("micro_batch=3", Strategy{}).micro_batch == 3);
}

TEST_CASE("strategy string: empty items, repeated keys and an empty string are errors") {
  CHECK_THROWS_WITH_AS(parse_strategy_string("", Strategy{}),
                       "strategy: empty (expected key=value items such as \"tp=8,pp=4\")", UsageError);
  CHECK_THROWS_WITH_AS(parse_strategy_string("tp=8,,pp=8", Strategy{}),
                       "strategy \"tp=8,,pp=8\": empty item between commas", UsageError);
  CHECK_THROWS_WITH_AS(parse_strategy_string("tp=8,", Strategy{}), "strategy \"tp=8,\": empty item between commas",
                       UsageError);
  CHECK_THROWS_WITH_AS(parse_strategy_string("tp=8,pp=8,tp=4", Strategy{}), "strategy \"tp=8,pp=8,tp=4\": tp given twice",
                       UsageError);
  // mbs and micro_batch name one field.
  CHECK_THROWS_WITH_AS(parse_strategy_string("mbs=1,micro_batch=2", Strategy{}),
                       "strategy \"mbs=1,micro_batch=2\": micro_batch given twice", UsageError);
}

TEST_CASE("data_parallel_size: GPUs / (tp*pp*cp), and sizes that cannot be are errors, not overflows") {
  CHECK(data_parallel_size(64, 8, 4, 1, "") == 2);
  CHECK_THROWS_WITH_AS(data_parallel_size(64, 8, 3, 1, ""), "tp*pp*cp = 8*3*1 does not divide 64 GPUs", UsageError);
  CHECK_THROWS_WITH_AS(data_parallel_size(64, 8, 4, 4, ""), "tp*pp*cp = 8*4*4 does not divide 64 GPUs", UsageError);
  // 2^30 * 2^30 * 16 = 2^64 wraps to 0 in int64: each factor is bounded by the GPU count first.
  CHECK_THROWS_WITH_AS(data_parallel_size(8, int64_t{1} << 30, int64_t{1} << 30, 16, "x: "),
                       "x: tp = 1073741824 must be between 1 and the 8 GPUs", UsageError);
  CHECK_THROWS_WITH_AS(data_parallel_size(8, 0, 1, 1, ""), "tp = 0 must be between 1 and the 8 GPUs", UsageError);
}

TEST_CASE("strategy string: grad_reduce names the gradients' type, and round-trips") {
  Strategy s = parse_strategy_string("tp=8,grad_reduce=bf16", Strategy{});
  CHECK(s.grad_reduce == DType::bf16);
  CHECK(parse_strategy_string(strategy_to_string(s), Strategy{}).grad_reduce == DType::bf16);
  // fp32, the default, is left out of the string.
  CHECK(strategy_to_string(Strategy{}).find("grad_reduce") == std::string::npos);
  CHECK_THROWS_WITH_AS(parse_strategy_string("grad_reduce=fp8", Strategy{}),
                       "strategy: grad_reduce=fp8: expected fp32, bf16 or fp16", UsageError);
}

TEST_CASE("strategy string: fp8_param_gather is a flag, and round-trips") {
  Strategy s = parse_strategy_string("zero=1,fp8_param_gather", Strategy{});
  CHECK(s.fp8_param_gather);
  CHECK(parse_strategy_string(strategy_to_string(s), Strategy{}).fp8_param_gather);
  CHECK(strategy_to_string(Strategy{}).find("fp8_param_gather") == std::string::npos);
}

TEST_CASE("strategy string: zero3_impl names the ZeRO-3 implementation, and round-trips") {
  Strategy s = parse_strategy_string("zero=3,zero3_impl=deepspeed-2021", Strategy{});
  CHECK(s.zero3_impl == Zero3Impl::deepspeed_2021);
  CHECK(parse_strategy_string(strategy_to_string(s), Strategy{}).zero3_impl == Zero3Impl::deepspeed_2021);
  CHECK(strategy_to_string(Strategy{}).find("zero3_impl") == std::string::npos);  // fsdp, the default
  CHECK_THROWS_WITH_AS(parse_strategy_string("zero3_impl=zero", Strategy{}),
                       "strategy: zero3_impl=zero: expected fsdp, deepspeed or deepspeed-2021", UsageError);
}
