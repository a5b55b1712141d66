// shardplan: the command-line entry point.
#include "cli/commands.hpp"

int main(int argc, char** argv) { return shardplan::cli::run_cli(argc, argv); }
