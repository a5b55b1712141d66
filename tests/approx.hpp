// Relative comparisons for the tests' hand computations.
//
// doctest::Approx passes |a - b| < epsilon * (scale + max(|a|, |b|)) with scale 1 by default: for
// the values these tests check (seconds, fractions, mostly far below 1) epsilon becomes an absolute
// tolerance, and 256e-6 == Approx(300e-6).epsilon(1e-3) passes. rel() compares relatively, as every
// comment's arithmetic means. Its scale is the smallest normal double, not 0, so that 0 == rel(0).
#pragma once
#include <doctest/doctest.h>

#include <limits>

namespace shardplan::testing {

inline doctest::Approx rel(double expected) {
  return doctest::Approx(expected).scale(std::numeric_limits<double>::min());
}

}  // namespace shardplan::testing
