// Fuzzes the GPU file loader (core/hardware.hpp): accepted figures are finite and in range.
#include "core/hardware.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardplan_fuzz::run_loader(data, size, [](const std::string& text) {
    using shardplan_fuzz::check;
    const shardplan::GpuSpec g = shardplan::gpu_from_json_text(text, "fuzz.json");
    check(g.memory_bytes > 0 && g.memory_bandwidth_GBps > 0 && g.sms > 0, "positive sizes");
    check(g.peak_flops(shardplan::DType::fp32) > 0, "positive fp32 peak");
    check(g.runtime_reserved_bytes >= 0 && g.runtime_reserved_bytes < g.memory_bytes, "reserved bytes in range");
  });
}
