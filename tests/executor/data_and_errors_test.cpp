// Token sources (synthetic and files in both formats) and the plans run_training refuses.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "executor/data.hpp"
#include "executor/run.hpp"
#include "tiny_model.hpp"

using namespace shardplan;
using namespace shardplan::executor;
using executor::testing::options;
using executor::testing::tiny;

TEST_CASE("the synthetic stream is deterministic, in range and learnable") {
  const TokenSource a = TokenSource::synthetic(3), b = TokenSource::synthetic(3);
  std::vector<int32_t> x(17), y(17), z(17);
  a.sequence(41, 16, 128, x.data());
  b.sequence(41, 16, 128, y.data());
  a.sequence(42, 16, 128, z.data());
  CHECK(x == y);
  CHECK(x != z);
  int follows_rule = 0;
  for (int i = 0; i < 16; ++i) {
    CHECK((x[i] >= 0 && x[i] < 128));
    follows_rule += x[i + 1] == (7 * x[i] + 3) % 128;
  }
  CHECK(follows_rule >= 8);  // 3/4 expected
}

TEST_CASE("token files: llm.c header (uint16, uint32) and headerless uint16") {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string f16 = (dir / "shardplan-tokens16.bin").string(), f32 = (dir / "shardplan-tokens32.bin").string();
  const std::string raw = (dir / "shardplan-tokens-raw.bin").string();
  std::vector<uint32_t> toks(100);
  for (uint32_t i = 0; i < 100; ++i) toks[i] = (i * 37) % 100;
  write_token_file(f16, toks);
  toks[5] = 70000;  // needs uint32
  write_token_file(f32, toks);
  {
    std::ofstream f(raw, std::ios::binary);
    for (uint32_t i = 0; i < 100; ++i) {
      const uint16_t t = static_cast<uint16_t>((i * 37) % 100);
      f.write(reinterpret_cast<const char*>(&t), 2);
    }
  }
  std::vector<int32_t> s(9), r(9);
  TokenSource::open(f16, 128, 8).sequence(1, 8, 128, s.data());
  TokenSource::open(raw, 128, 8).sequence(1, 8, 128, r.data());
  for (int p = 0; p <= 8; ++p) CHECK(s[p] == int32_t(((8 + p) * 37) % 100));  // offset 1·seq_len
  CHECK(r == s);
  TokenSource::open(f32, 70001, 8).sequence(0, 8, 70001, s.data());
  CHECK(s[5] == 70000);
  CHECK_THROWS_WITH_AS(TokenSource::open(f32, 128, 8), doctest::Contains("not below the model's vocab"), std::runtime_error);
  CHECK_THROWS_WITH_AS(TokenSource::open(f16, 128, 100), doctest::Contains("fewer than seq_len+1"), std::runtime_error);
  CHECK_THROWS_WITH_AS(TokenSource::open(f16 + ".missing", 128, 8), doctest::Contains("cannot be opened"), std::runtime_error);

  // A run on the file: deterministic, and different from the synthetic stream.
  RunOptions o = options(tiny(), "dp=2", 2);
  o.data_file = f16;
  const RunReport a = run_training(o), b = run_training(o);
  CHECK(a.losses == b.losses);
  CHECK(std::isfinite(a.losses[1]));
  o.data_file = "";
  CHECK(run_training(o).losses != a.losses);
  for (const auto& f : {f16, f32, raw}) std::filesystem::remove(f);
}

TEST_CASE("plans the CPU executor cannot run are refused with the reason") {
  struct Case { std::string plan; std::string message; };
  const std::vector<Case> cases = {
      {"cp=2", "context parallelism is not supported by the CPU executor yet"},
      {"ep=2", "expert parallelism is not supported by the CPU executor yet"},
      {"tp=8", "tp=8 must divide heads (4)"},
      {"dp=3", "global_batch (8) must be a multiple of dp*micro_batch (3)"},
      {"pp=8", "layers (4) must be at least pp*vp (8)"},
      {"pp=2,vp=2", "vp=2 needs the interleaved schedule"},
      {"pp=4,vp=2,schedule=interleaved,mbs=4", "layers (4) must be at least pp*vp (8)"},
      {"pp=2,vp=2,schedule=interleaved,mbs=8", "divisible by pp"},
      {"recompute=op", "recompute=op is torchtitan's op-level checkpointing policy"},
  };
  for (const Case& c : cases) {
    INFO(c.plan);
    CHECK_THROWS_WITH_AS(run_training(options(tiny(), c.plan)), doctest::Contains(c.message.c_str()), std::runtime_error);
  }
  // GQA: tp must divide the kv heads (Megatron's rule; kv heads are not replicated).
  CHECK_THROWS_WITH_AS(run_training(options(tiny(true), "tp=4")), doctest::Contains("must divide kv_heads (2)"), std::runtime_error);
  ModelSpec moe = tiny();
  moe.moe = MoeSpec{8, 2, 64, 0, 0};
  CHECK_THROWS_WITH_AS(run_training(options(moe, "dp=1")), doctest::Contains("mixture-of-experts"), std::runtime_error);
  RunOptions sp = options(tiny(), "tp=2,sp");
  sp.strategy.seq_len = 3;  // 3 tokens per micro-batch do not split over 2 ranks
  CHECK_THROWS_WITH_AS(run_training(sp), doctest::Contains("under sp"), std::runtime_error);
  CHECK(unsupported_reason(options(tiny(), "tp=2,pp=2,dp=2,zero=3,sp")).empty());
  // A sliding window shorter than the sequence is not run; one that covers it is full attention.
  ModelSpec windowed = tiny();
  windowed.attention.window = 4;
  CHECK(unsupported_reason(options(windowed, "dp=1")).find("sliding-window attention (window 4") == 0);
  windowed.attention.window = 1 << 20;
  CHECK(unsupported_reason(options(windowed, "dp=1")).empty());
  ModelSpec gemma = tiny();
  gemma.ffn_act = "geglu";
  CHECK(unsupported_reason(options(gemma, "dp=1")).find("GELU-gated FFN (geglu)") != std::string::npos);
  gemma = tiny();
  gemma.post_norms = true;
  CHECK(unsupported_reason(options(gemma, "dp=1")).find("post_norms and logit_softcap") != std::string::npos);
  // gpt-oss's layer: each of its parts alone is refused.
  for (int part = 0; part < 4; ++part) {
    ModelSpec oss = tiny();
    if (part == 0) oss.ffn_act = "quick_geglu";
    if (part == 1) oss.linear_bias = true;
    if (part == 2) oss.attention.sinks = true;
    if (part == 3) oss.ffn_act = "swiglu", oss.ffn_clamp = 7;
    CAPTURE(part);
    CHECK(unsupported_reason(options(oss, "dp=1")).find("gpt-oss's layer") == 0);
  }
}

TEST_CASE("the report: losses per step, speed, memory per rank") {
  const RunReport r = run_training(options(tiny(), "tp=2,pp=2", 3));
  CHECK(r.losses.size() == 3);
  CHECK(std::abs(r.losses[0] - std::log(128.0)) < 0.1);  // untrained: about uniform over the vocab
  CHECK(r.step_time_s > 0);
  CHECK(r.tokens_per_s == shardplan::testing::rel(8 * 16 / r.step_time_s));
  REQUIRE(r.peak_bytes_per_rank.size() == 4);
  for (int i = 0; i < 4; ++i) CHECK(r.peak_bytes_per_rank[i].rank == i);
}

TEST_CASE("a plan's pipeline cut: the layers where the plan puts them, the same training") {
  // tiny's 4 layers over pp 2: evenly 2 | 2, or as a plan cut them for memory, 3 | 1. The model
  // and the data are the same, so are the losses and gradient norms; the weights move between
  // the stages by one layer.
  const RunReport even = run_training(options(tiny(), "pp=2", 2));
  RunOptions cut = options(tiny(), "pp=2", 2);
  cut.layer_bounds = {0, 3, 4};
  const RunReport r = run_training(cut);
  REQUIRE(r.losses.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(r.losses[i] == doctest::Approx(even.losses[i]).epsilon(1e-6));
    CHECK(r.grad_norms[i] == doctest::Approx(even.grad_norms[i]).epsilon(1e-6));
  }
  const auto weights = [](const RunReport& x, int rank) {
    return x.peak_bytes_per_rank[static_cast<size_t>(rank)].peak_bytes[static_cast<size_t>(MemCategory::weights)];
  };
  // One layer's weights move from stage 1 to stage 0.
  CHECK(weights(r, 0) > weights(even, 0));
  CHECK(weights(r, 0) - weights(even, 0) == weights(even, 1) - weights(r, 1));
  // A cut the executor cannot run says why.
  for (const auto& [bounds, message] : std::vector<std::pair<std::vector<int64_t>, std::string>>{
           {{0, 4}, "pp*vp + 1 layer bounds from 0 to layers (4)"},
           {{0, 2, 5}, "pp*vp + 1 layer bounds from 0 to layers (4)"},
           {{0, 0, 4}, "leaves chunk 0 without a transformer layer"}}) {
    RunOptions bad = options(tiny(), "pp=2", 1);
    bad.layer_bounds = bounds;
    CHECK(unsupported_reason(bad).find(message) != std::string::npos);
  }
  RunOptions t = options(tiny(), "dp=1", 1);
  t.comm_timeout_s = 0;
  CHECK(unsupported_reason(t).find("comm_timeout_s") != std::string::npos);
  t.comm_timeout_s = 5;  // a rank waits this long on another before the run stops
  CHECK(run_training(t).losses.size() == 1);
  ModelSpec qwen = tiny();
  qwen.qk_norm = true;  // per-head Q/K norms: refused, not run without them
  CHECK(unsupported_reason(options(qwen, "dp=1")).find("qk_norm") != std::string::npos);
}
