// Builds the CLI11 app, dispatches, and turns every error into one line and exit status 2.
#include <exception>
#include <iostream>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/hardware.hpp"

namespace shardplan::cli {

int run_cli(int argc, char** argv) {
  set_program_path(argc > 0 ? argv[0] : "shardplan");
  CLI::App app{"shardplan: plan and simulate how to split model training across GPUs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "shardplan 0.1.0");
  register_inspect(app);
  register_list(app);
  register_estimate(app);
  register_validate(app);
  register_plan(app);
  register_simulate(app);
  register_compare(app);
  register_check(app);
  register_emit(app);
  register_report(app);
  register_run(app);
  register_calibrate(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const ExitStatus& e) {
    return e.code;
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace shardplan::cli
