// How a ZeRO-3 (fully sharded) implementation issues its collectives. The same bytes move in
// each; what differs is how many collectives carry them and what each costs beyond its bytes.
//   fsdp           PyTorch FSDP/FSDP2, Megatron-FSDP, torchtitan: one all-gather and one
//                  reduce-scatter per wrapped unit (a transformer block); the recompute of a block
//                  runs on the parameters its backward gathered.
//   deepspeed      DeepSpeed ZeRO-3 (v0.5.5 on): one collective per weight-bearing submodule
//                  (each linear layer), parameters under stage3_param_persistence_threshold
//                  (1e5 elements) kept whole; the hooks release a submodule's parameters after
//                  every forward, so a recomputed forward gathers them again before its backward.
//   deepspeed-2021 DeepSpeed v0.3.13 to v0.5.4 (March to October 2021, the ZeRO-3 of Narayanan
//                  et al.'s comparison): as deepspeed, one collective per parameter through
//                  PyTorch's list-based all_gather / reduce_scatter, with a host loop over the
//                  ranks and a device-wide synchronize before every gather (nothing overlaps).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shardplan {

enum class Zero3Impl : uint8_t { fsdp = 0, deepspeed = 1, deepspeed_2021 = 2 };
constexpr int kZero3ImplCount = 3;
inline constexpr const char* kZero3ImplChoices = "fsdp, deepspeed or deepspeed-2021";

inline const char* zero3_impl_name(Zero3Impl z) {
  switch (z) {
    case Zero3Impl::deepspeed: return "deepspeed";
    case Zero3Impl::deepspeed_2021: return "deepspeed-2021";
    default: return "fsdp";
  }
}

inline std::vector<std::string> zero3_impl_names() {
  std::vector<std::string> out;
  for (int i = 0; i < kZero3ImplCount; ++i) out.emplace_back(zero3_impl_name(static_cast<Zero3Impl>(i)));
  return out;
}

inline bool parse_zero3_impl(const std::string& s, Zero3Impl& out) {
  for (int i = 0; i < kZero3ImplCount; ++i)
    if (s == zero3_impl_name(static_cast<Zero3Impl>(i))) return out = static_cast<Zero3Impl>(i), true;
  return false;
}

// DeepSpeed's ZeRO-3 (either version): per-submodule collectives, re-gathered for recompute.
inline bool per_module_gathers(Zero3Impl z) { return z != Zero3Impl::fsdp; }

}  // namespace shardplan
