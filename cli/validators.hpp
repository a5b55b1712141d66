// CLI11 validators for real-valued flags. CLI::Range lets NaN through (every comparison with it
// is false) and prints its bounds with all the digits of DBL_MAX; these say what is expected.
#pragma once
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <string>

namespace shardplan::cli {

// A finite number in [lo, hi]; `what` names the unit in the message ("a fraction", "seconds").
inline CLI::Validator finite_in(double lo, double hi, const std::string& what) {
  return CLI::Validator(
      [=](std::string& v) -> std::string {
        double x = 0;
        size_t used = 0;
        try {
          x = std::stod(v, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == v.size() && !v.empty() && std::isfinite(x) && x >= lo && x <= hi) return "";
        char range[64];
        std::snprintf(range, sizeof range, "[%g, %g]", lo, hi);
        return "expected " + what + " in " + range + ", found " + v;
      },
      what);
}

}  // namespace shardplan::cli
