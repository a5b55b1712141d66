// Killing shardplan while it writes an output file (SIGKILL at many points of the run) leaves the
// target either as it was or complete, never truncated (issue 9: every writer goes through
// core/atomic_file.hpp). The complete bytes are known: the output is deterministic.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_run.hpp"

using shardplan_test::run_cli;
using shardplan_test::ScratchDir;
using shardplan_test::slurp;

namespace {
// Starts the binary with `args` (no shell), output to /dev/null; returns its pid.
pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  static std::string bin = SHARDPLAN_BINARY;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs `args` (whose output goes to `target`) to completion for the reference bytes, then kills
// it at fractions of that run time, each time over a file holding "previous".
void check_kills(const std::vector<std::string>& args, const std::string& target) {
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t ref = spawn(args);
  int status = 0;
  REQUIRE(::waitpid(ref, &status, 0) == ref);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const double full_s = seconds_since(t0);
  const std::string complete = slurp(target);
  REQUIRE(complete.size() > 1000);
  const std::string previous = "{\"previous\": true}\n";
  int killed_before = 0, completed = 0;
  for (double f : {0.05, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0, 1.1}) {
    {
      std::ofstream(target, std::ios::trunc) << previous;
    }
    const pid_t pid = spawn(args);
    std::this_thread::sleep_for(std::chrono::duration<double>(f * full_s));
    ::kill(pid, SIGKILL);
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    const std::string now = slurp(target);
    CAPTURE(f);
    CHECK((now == previous || now == complete));
    killed_before += now == previous;
    completed += now == complete;
  }
  MESSAGE("killed before the rename: " << killed_before << ", after: " << completed);
  // Once more, killed the moment writing shows: a temporary next to the target (the atomic
  // writer) or the target itself changing (a direct writer, which this would catch half-written).
  {
    std::ofstream(target, std::ios::trunc) << previous;
  }
  const pid_t pid = spawn(args);
  const std::string tmp = target + ".tmp." + std::to_string(pid);
  const auto start = std::chrono::steady_clock::now();
  bool seen = false, exited = false;
  while (!seen && !exited && seconds_since(start) < 60) {
    std::error_code ec;
    seen = std::filesystem::exists(tmp, ec) || std::filesystem::file_size(target, ec) != previous.size();
    exited = ::waitpid(pid, &status, WNOHANG) == pid;
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    REQUIRE(::waitpid(pid, &status, 0) == pid);
  }
  CHECK(seen);
  const std::string now = slurp(target);
  CHECK((now == previous || now == complete));
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
}
}  // namespace

TEST_CASE("atomic files: simulate --trace killed mid-run leaves the old trace or the whole new one") {
  ScratchDir dir("atomic_trace");
  const std::string trace = dir.file("trace.json");
  check_kills({"simulate", "--model", "gpt3-175b", "--cluster", "dgx-a100", "--gpus", "1024", "--global-batch", "1536",
               "--tp", "8", "--pp", "16", "--micro-batch", "1", "--full", "--trace", trace},
              trace);
}

TEST_CASE("atomic files: plan --out killed mid-run leaves the old plan or the whole new one") {
  ScratchDir dir("atomic_plan");
  const std::string out = dir.file("plan.json");
  check_kills({"plan", "--model", "gpt-22b", "--cluster", "dgx-a100", "--gpus", "64", "--global-batch", "256",
               "--threads", "1", "--out", out},
              out);
}
