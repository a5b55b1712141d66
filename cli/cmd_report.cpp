// placeholder (being written)
#include "cli/commands.hpp"
namespace shardplan::cli {
void register_report(CLI::App& app) { app.add_subcommand("report", "HTML report"); }
}  // namespace shardplan::cli
