// Data types of tensors and math, with their sizes in bytes.
#pragma once
#include <optional>
#include <string>

namespace shardplan {

enum class DType { fp32 = 0, tf32 = 1, bf16 = 2, fp16 = 3, fp8 = 4 };
inline constexpr int kDTypeCount = 5;

inline double dtype_bytes(DType d) {
  switch (d) {
    case DType::fp32:
    case DType::tf32: return 4;
    case DType::bf16:
    case DType::fp16: return 2;
    case DType::fp8: return 1;
  }
  return 4;
}

inline const char* dtype_name(DType d) {
  static const char* names[] = {"fp32", "tf32", "bf16", "fp16", "fp8"};
  return names[static_cast<int>(d)];
}

inline std::optional<DType> parse_dtype(const std::string& s) {
  for (int i = 0; i < kDTypeCount; ++i)
    if (s == dtype_name(static_cast<DType>(i))) return static_cast<DType>(i);
  return std::nullopt;
}

// The 16-bit type of mixed-precision training at `precision` (FP8 training keeps its 16-bit
// tensors in bf16); fp32 training has none and returns fp32.
inline DType sixteen_bit_of(DType precision) {
  switch (precision) {
    case DType::fp16: return DType::fp16;
    case DType::bf16:
    case DType::fp8: return DType::bf16;
    default: return DType::fp32;
  }
}

}  // namespace shardplan
