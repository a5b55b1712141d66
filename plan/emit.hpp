// Emitters: a plan as the launch configuration of a training framework. Each targets one
// release (kMegatronVersion, ...; flags checked against its source, see docs/plan-format.md).
// A plan the framework cannot express throws UsageError naming everything it lacks.
#pragma once
#include <string>
#include <vector>

#include "plan/plan.hpp"

namespace shardplan {

inline constexpr const char* kMegatronVersion = "Megatron-LM core_v0.15.0";
inline constexpr const char* kDeepSpeedVersion =
    "DeepSpeed v0.19.5 with Megatron-DeepSpeed (master 4efb479, 2025-07)";
inline constexpr const char* kTorchtitanVersion = "torchtitan v0.2.2";

struct Emitted {
  std::string text;                // the file: a shell script, JSON or TOML
  std::vector<std::string> notes;  // where the framework differs from what the plan assumed
};

// A bash script: Megatron-LM pretrain_gpt.py arguments and the torchrun launch line.
Emitted emit_megatron(const Plan& plan);
// A bash script that writes ds_config.json and launches Megatron-DeepSpeed's pretrain_gpt.py
// with the deepspeed launcher; with `config_only`, just the DeepSpeed config JSON.
Emitted emit_deepspeed(const Plan& plan, bool config_only);
// A torchtitan job config (TOML) with the launch line in its header comment.
Emitted emit_torchtitan(const Plan& plan);

}  // namespace shardplan
