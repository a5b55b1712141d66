// Which fused-attention kernel a run uses: the GPU preset's default (what the frameworks pick on
// it), or a named one with its own measured rates in the preset (`attention_kernels`).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shardplan {

enum class AttentionKernel : uint8_t { gpu_default = 0, fa2 = 1, cudnn = 2, fa3 = 3 };
constexpr int kAttentionKernelCount = 4;

inline const char* attention_kernel_name(AttentionKernel k) {
  switch (k) {
    case AttentionKernel::fa2: return "fa2";
    case AttentionKernel::cudnn: return "cudnn";
    case AttentionKernel::fa3: return "fa3";
    default: return "default";
  }
}

// Every name, "default" first; from_named = 1 leaves it out (the kernels a GPU preset can list).
inline std::vector<std::string> attention_kernel_names(int from_named = 0) {
  std::vector<std::string> out;
  for (int i = from_named; i < kAttentionKernelCount; ++i) out.emplace_back(attention_kernel_name(static_cast<AttentionKernel>(i)));
  return out;
}

inline bool parse_attention_kernel(const std::string& s, AttentionKernel& out) {
  for (int i = 0; i < kAttentionKernelCount; ++i)
    if (s == attention_kernel_name(static_cast<AttentionKernel>(i))) return out = static_cast<AttentionKernel>(i), true;
  return false;
}

}  // namespace shardplan
