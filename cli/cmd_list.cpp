// `shardplan list models|gpus|clusters`: what ships with the tool.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <memory>

#include "cli/commands.hpp"
#include "core/hardware.hpp"
#include "graph/model_loader.hpp"

namespace shardplan::cli {

void register_list(CLI::App& app) {
  auto what = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("list", "List the shipped models, GPUs or clusters");
  cmd->add_option("what", *what, "models, gpus or clusters")
      ->required()
      ->check(CLI::IsMember({"models", "gpus", "clusters"}));
  cmd->add_flag("--json", *json, "print the names as a JSON array");
  cmd->callback([what, json] {
    if (*json) {
      const auto names = *what == "models" ? list_models() : list_presets(*what);
      std::cout << nlohmann::json(names).dump(1) << "\n";
      return;
    }
    if (*what == "models") {
      for (const auto& n : list_models()) std::cout << n << "\n";
    } else if (*what == "gpus") {
      for (const auto& n : list_presets("gpus")) {
        GpuSpec g = load_gpu(n);
        std::cout << fmt::format("{:<12} {:<32} {:>6.0f} GB {:>7.0f} GB/s  bf16 {:>5.0f} TFLOP/s\n", n,
                                 g.description, g.memory_bytes / 1e9, g.memory_bandwidth_GBps,
                                 g.peak_tflops[static_cast<int>(DType::bf16)]);
      }
    } else {
      for (const auto& n : list_presets("clusters")) {
        ClusterSpec c = load_cluster(n);
        std::cout << fmt::format("{:<14} {:>5} x {} GPUs of {}\n", n, c.nodes, c.gpus_per_node, c.gpu.name);
      }
    }
  });
}

}  // namespace shardplan::cli
