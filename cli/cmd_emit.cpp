// `shardplan emit --format megatron|deepspeed|torchtitan PLAN`: the plan as a framework's launch
// configuration (plan/emit.hpp), on stdout or into a file. A plan the framework cannot express
// exits 2 naming what the framework lacks; where the framework differs, notes go to stderr.
#include <iostream>
#include <nlohmann/json.hpp>
#include <memory>

#include "cli/commands.hpp"
#include "cli/plan_input.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "plan/emit.hpp"
#include "plan/plan.hpp"

namespace shardplan::cli {

namespace {
struct EmitOptions {
  std::string file, format, out;
  bool config_only = false, json = false;
};

void run_emit(const EmitOptions& o) {
  if (o.config_only && o.format != "deepspeed")
    throw UsageError("--config-only applies to --format deepspeed only");
  // A strategy the cost model rejects (heads not divisible by tp, ...) is no launch config either.
  const Plan p = load_plan(o.file).plan;
  Emitted e = o.format == "megatron"    ? emit_megatron(p)
              : o.format == "deepspeed" ? emit_deepspeed(p, o.config_only)
                                        : emit_torchtitan(p);
  if (!o.out.empty()) write_file_atomically(o.out, e.text);
  if (o.json) {
    // The configuration (unless written to --out) and the notes, for tools that drive emit.
    nlohmann::ordered_json j = {{"format", o.format}, {"notes", e.notes}};
    if (o.out.empty()) j["text"] = e.text;
    else j["out"] = o.out;
    std::cout << j.dump(1) << "\n";
    return;
  }
  if (o.out.empty()) std::cout << e.text;
  for (const auto& n : e.notes) std::cerr << "note: " << n << "\n";
}
}  // namespace

void register_emit(CLI::App& app) {
  auto o = std::make_shared<EmitOptions>();
  auto* cmd = app.add_subcommand(
      "emit", "Write a plan as Megatron-LM, DeepSpeed or torchtitan configuration");
  cmd->add_option("plan", o->file, "plan file written by `plan --out`")->required();
  cmd->add_option(
         "--format", o->format,
         "megatron (bash script), deepspeed (bash script + ds_config) or torchtitan (TOML)")
      ->required()
      ->check(CLI::IsMember({"megatron", "deepspeed", "torchtitan"}));
  cmd->add_flag("--config-only", o->config_only, "deepspeed: print only the DeepSpeed config JSON");
  cmd->add_option("-o,--out", o->out, "write to this file instead of stdout");
  cmd->add_flag("--json", o->json, "print {format, notes, text (or out)} as JSON");
  cmd->callback([o] { run_emit(*o); });
}

}  // namespace shardplan::cli
