// `shardplan inspect MODEL`: parameters, per-block table, training FLOPs per token, model states.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "graph/model_loader.hpp"
#include "graph/model_stats.hpp"

namespace shardplan::cli {

namespace {
struct InspectOptions {
  std::string model;
  int64_t seq_len = 0;
  bool json = false;
};

// Consecutive blocks of the same type print as one row ("layer0..layer95 x96").
struct BlockRun {
  std::string first, last, type;
  int64_t count = 0;
  BlockStats stats;
};

std::vector<BlockRun> group_blocks(const ModelStats& s) {
  std::vector<BlockRun> runs;
  for (const auto& b : s.blocks) {
    if (!runs.empty() && runs.back().type == b.type && runs.back().stats.params == b.params &&
        runs.back().stats.fwd_flops_per_token == b.fwd_flops_per_token) {
      runs.back().last = b.name;
      runs.back().count++;
    } else {
      runs.push_back(BlockRun{b.name, b.name, b.type, 1, b});
    }
  }
  return runs;
}

void run_inspect(const InspectOptions& o) {
  LoadedModel m = load_model(o.model, o.seq_len);
  ModelStats s = model_stats(m.graph);
  auto runs = group_blocks(s);
  if (o.json) {
    nlohmann::ordered_json j;
    j["name"] = m.graph.name;
    j["format"] = m.format;
    j["seq_len"] = m.graph.seq_len;
    j["params"] = s.params;
    j["active_params"] = s.active_params;
    j["train_flops_per_token"] = s.train_flops_per_token;
    j["train_flops_per_token_no_attention"] = s.train_flops_per_token_no_attn;
    j["weight_bytes"] = s.weight_bytes;
    j["grad_bytes"] = s.grad_bytes;
    j["adam_bytes"] = s.adam_bytes;
    j["ops"] = m.graph.op_count();
    j["blocks"] = nlohmann::ordered_json::array();
    for (const auto& r : runs) {
      j["blocks"].push_back({{"first", r.first},
                             {"last", r.last},
                             {"type", r.type},
                             {"count", r.count},
                             {"params", r.stats.params},
                             {"active_params", r.stats.active_params},
                             {"fwd_flops_per_token", r.stats.fwd_flops_per_token},
                             {"activation_bytes_per_token", r.stats.saved_bytes_per_token}});
    }
    std::cout << j.dump(1) << "\n";
    return;
  }
  std::cout << fmt::format("model {} ({} input, {} ops, seq_len {})\n", m.graph.name, m.format,
                           m.graph.op_count(), m.graph.seq_len);
  std::cout << fmt::format("parameters: {} total", human_count(s.params));
  if (s.active_params < s.params) std::cout << fmt::format(", {} active per token", human_count(s.active_params));
  std::cout << "\n\n";
  std::cout << fmt::format("{:<28} {:>5} {:>12} {:>14} {:>16}\n", "blocks", "count", "params each",
                           "fwd FLOP/token", "act bytes/token");
  for (const auto& r : runs) {
    std::string label = r.count > 1 ? r.first + ".." + r.last : r.first;
    std::cout << fmt::format("{:<28} {:>5} {:>12} {:>14} {:>16}\n", label, r.count,
                             human_count(r.stats.params), human_count(r.stats.fwd_flops_per_token),
                             human_count(r.stats.saved_bytes_per_token));
  }
  std::cout << "\n";
  std::cout << fmt::format("training FLOPs per token: {} ({} without attention scores)\n",
                           human_count(s.train_flops_per_token), human_count(s.train_flops_per_token_no_attn));
  std::cout << fmt::format("model states: weights {} (16-bit), gradients {} (fp32), Adam {} (fp32 master, m, v)\n",
                           human_bytes(s.weight_bytes), human_bytes(s.grad_bytes), human_bytes(s.adam_bytes));
  std::cout << "activation bytes are 16-bit, per token, with fused (flash) attention and no recompute\n";
}
}  // namespace

void register_inspect(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand("inspect", "Show a model's parameters, FLOPs and memory per block");
  cmd->add_option("model", o->model, "zoo name, transformer spec, HF config.json or op graph")->required();
  cmd->add_option("--seq-len", o->seq_len, "override the sequence length")->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] { run_inspect(*o); });
}

}  // namespace shardplan::cli
