// Chrome trace export: valid Trace Event Format, names, counters, and identical bytes per input.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "simulator/simulate.hpp"
#include "simulator/trace.hpp"

using namespace shardplan;

namespace {

StageCosts small_case() {
  StageCosts c;
  c.pp = 2, c.vp = 2, c.micro_batches = 4, c.schedule = Schedule::interleaved;
  c.chunks.resize(2);
  for (int s = 0; s < 2; ++s)
    for (int v = 0; v < 2; ++v) {
      ChunkCost k;
      k.fwd_s = 0.5, k.bwd_input_s = 1.0, k.activation_bytes = 1e9, k.send_bytes = 32.0;
      k.grad_bytes = 4.0;
      int first = (v * 2 + s) * 4;
      k.first_block = std::to_string(first);
      k.last_block = std::to_string(first + 3);
      c.chunks[s].push_back(k);
    }
  c.static_bytes = {2e9, 2e9};
  c.dp_comm_s = {1.0, 1.0};
  c.optimizer_s = {0.25, 0.25};
  c.p2p = {64.0, 0.125, "ib"};
  return c;
}

}  // namespace

TEST_CASE("trace: Trace Event Format with X events, thread names and memory counters") {
  SimOptions o;
  o.record_trace = true;
  SimResult r = simulate(small_case(), o);
  REQUIRE(r.error.empty());
  auto j = nlohmann::json::parse(chrome_trace_json(r));
  REQUIRE(j["traceEvents"].is_array());
  size_t x = 0, counters = 0, threads = 0;
  bool named = false;
  for (const auto& e : j["traceEvents"]) {
    std::string ph = e["ph"];
    if (ph == "X") {
      ++x;
      CHECK(e["dur"].get<double>() >= 0);
      // Chunk 1 of stage 1 is model position 1 * 2 + 1 = 3: blocks 12-15.
      if (e["name"] == "F mb3 chunk1 layers 12-15") named = e["pid"] == 1 && e["tid"] == 0;
    }
    if (ph == "C") {
      ++counters;
      CHECK(e["name"] == "memory");
    }
    if (ph == "M" && e["name"] == "thread_name") ++threads;
  }
  CHECK(x == r.trace.size());
  CHECK(counters == r.memory.size());
  CHECK(named);
  CHECK(threads >= 2 * 5);  // compute, dp_comm and 4 p2p streams on each GPU are in use
}

TEST_CASE("trace: same input, same bytes") {
  SimOptions o;
  o.record_trace = true;
  std::string a = chrome_trace_json(simulate(small_case(), o));
  std::string b = chrome_trace_json(simulate(small_case(), o));
  CHECK(a == b);
  o.full = true, o.dp = 2;
  CHECK(chrome_trace_json(simulate(small_case(), o)) ==
        chrome_trace_json(simulate(small_case(), o)));
}

TEST_CASE("trace: names are escaped") {
  SimResult r;
  r.gpus = 1;
  r.end_s = {1.0};
  r.trace.push_back({0, SimStream::compute, "F \"x\"\\y\n", 0.0, 1e-6});
  auto j = nlohmann::json::parse(chrome_trace_json(r));
  bool found = false;
  for (const auto& e : j["traceEvents"])
    if (e["ph"] == "X") found = e["name"] == "F \"x\"\\y\n" && e["dur"] == 1.0;
  CHECK(found);
}
