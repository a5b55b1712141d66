// Number formatting shared by the subcommands.
#include "cli/format.hpp"

#include <cmath>
#include <fmt/format.h>

namespace shardplan::cli {

std::string human_count(double n) {
  double a = std::fabs(n);
  if (a >= 1e12) return fmt::format("{:.2f} T", n / 1e12);
  if (a >= 1e9) return fmt::format("{:.2f} B", n / 1e9);
  if (a >= 1e6) return fmt::format("{:.2f} M", n / 1e6);
  if (a >= 1e3) return fmt::format("{:.2f} k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

std::string human_bytes(double b) {
  double a = std::fabs(b);
  if (a >= 1024.0 * 1024 * 1024 * 1024) return fmt::format("{:.2f} TiB", b / (1024.0 * 1024 * 1024 * 1024));
  if (a >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (a >= 1024.0 * 1024) return fmt::format("{:.2f} MiB", b / (1024.0 * 1024));
  if (a >= 1024.0) return fmt::format("{:.2f} KiB", b / 1024.0);
  return fmt::format("{:.0f} B", b);
}

std::string human_seconds(double s) {
  double a = std::fabs(s);
  if (a >= 1) return fmt::format("{:.3f} s", s);
  if (a >= 1e-3) return fmt::format("{:.2f} ms", s * 1e3);
  return fmt::format("{:.1f} us", s * 1e6);
}

std::string human_flops(double f) {
  double a = std::fabs(f);
  if (a >= 1e15) return fmt::format("{:.2f} PFLOP", f / 1e15);
  if (a >= 1e12) return fmt::format("{:.2f} TFLOP", f / 1e12);
  if (a >= 1e9) return fmt::format("{:.2f} GFLOP", f / 1e9);
  if (a >= 1e6) return fmt::format("{:.2f} MFLOP", f / 1e6);
  return fmt::format("{:.0f} FLOP", f);
}

}  // namespace shardplan::cli
