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
void register_check(CLI::App& app);
void register_emit(CLI::App& app);
void register_report(CLI::App& app);
void register_run(CLI::App& app);
void register_calibrate(CLI::App& app);

// Thrown by a command that has printed its result to end with another status than 0 (check:
// 1 when a valid plan's stored prediction no longer matches the cost model).
struct ExitStatus {
  int code = 0;
};

// Runs the CLI on argv; returns the exit status (0 ok, 2 bad input or usage).
int run_cli(int argc, char** argv);

}  // namespace shardplan::cli
