// The subcommands. Each file cli/cmd_<name>.cpp registers one: an options struct, flags with
// CLI11 validators, and a run function that calls the library and prints.
#pragma once
#include <CLI/CLI.hpp>

namespace shardplan::cli {

void register_inspect(CLI::App& app);
void register_list(CLI::App& app);
void register_estimate(CLI::App& app);
void register_validate(CLI::App& app);
void register_plan(CLI::App& app);
void register_compare(CLI::App& app);
void register_simulate(CLI::App& app);

// Runs the CLI on argv; returns the exit status (0 ok, 2 bad input or usage).
int run_cli(int argc, char** argv);

}  // namespace shardplan::cli
