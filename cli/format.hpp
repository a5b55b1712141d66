// Human-readable numbers for tables: 1.23 B, 45.6 GiB, 12.3 ms.
#pragma once
#include <string>

namespace shardplan::cli {

std::string human_count(double n);    // 7.03 B, 512 M, 12.3 k
std::string human_bytes(double b);    // GiB (2^30) throughout the CLI
std::string human_seconds(double s);  // 1.23 s, 45.6 ms, 789 us
std::string human_flops(double f);    // 1.23 TFLOP, 4.56 GFLOP

}  // namespace shardplan::cli
