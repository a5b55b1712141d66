// The frameworks shardplan emits for, and what each can run: the rules behind the emitters'
// "cannot run this plan" errors and behind `plan --framework`, which searches only what the
// framework runs.
#pragma once
#include <string>
#include <vector>

#include "core/model_spec.hpp"
#include "core/strategy.hpp"

namespace shardplan {

enum class Framework { megatron, deepspeed, torchtitan };

bool parse_framework(const std::string& name,
                     Framework& out);  // "megatron", "deepspeed", "torchtitan"
const char* framework_name(Framework f);
const char* framework_release(Framework f);  // the release the emitter targets (plan/emit.hpp)

// Every capability the framework lacks for this strategy and model (`spec` null: an explicit op
// graph, whose model rules are skipped), each as "no ... ; re-plan with ..."; empty when it runs.
std::vector<std::string> framework_gaps(Framework f, const Strategy& s, const ModelSpec* spec);
// The same rules, as one answer and without building any message.
bool framework_runs(Framework f, const Strategy& s, const ModelSpec* spec);
// The planner's filter: sets what the framework does regardless of the plan (DeepSpeed reduces
// gradients after the last backward under pipelining and with BF16_Optimizer, and reduces the TP
// input gradient synchronously; torchtitan runs fused SDPA and overlaps the reduction), then
// admits `s` if the framework runs it as shardplan prices it (a point it runs differently, such
// as torchtitan with tp > 1 but without sp, or DeepSpeed's selective recompute with flash
// attention, which recomputes nothing, is left to its priced twin).
bool framework_plans(Framework f, Strategy& s, const ModelSpec* spec);
// Whether the framework runs a pipeline cut at these block boundaries (chunk c holds blocks
// [bounds[c], bounds[c+1]) of `blocks`, the first being the embedding and the last the head):
// DeepSpeed's pipeline splits the layers evenly by count (partition_method 'type:transformer'),
// Megatron takes any layout (--pipeline-model-parallel-layout), torchtitan any split points.
bool framework_partition_runs(Framework f, const std::vector<int64_t>& bounds, int64_t blocks);
// DeepSpeed runs bf16 with ZeRO-1 through BF16_Optimizer (fp32 gradient accumulation, reduced
// after the backward; runtime/engine.py).
bool deepspeed_bf16_optimizer(const Strategy& s);
// The recompute modes the framework implements, as shardplan prices them.
std::vector<Recompute> framework_recompute_modes(Framework f);

}  // namespace shardplan
