// Shared by the libFuzzer targets (issue 9): run one loader on the fuzzer's bytes. The typed
// errors a user sees as "error: ..." and exit status 2 (InputError, UsageError) are expected;
// anything else (another exception, a crash, undefined behaviour, a hang, a huge allocation)
// reaches libFuzzer and is a finding.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.hpp"

namespace shardplan_fuzz {

template <class F>
int run_loader(const uint8_t* data, size_t size, F&& load) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    load(text);
  } catch (const shardplan::InputError&) {
  } catch (const shardplan::UsageError&) {
  }
  return 0;
}

// A property of an accepted input that must hold; its failure is a finding.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

inline bool finite_nonnegative(double v) { return std::isfinite(v) && v >= 0; }

}  // namespace shardplan_fuzz
