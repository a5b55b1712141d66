// cuda_backend.hpp: shardplan-cuda run as a child process, its stdout and stderr captured in a
// private temporary directory, its JSON read back.
#include "cli/cuda_backend.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.hpp"
#include "core/hardware.hpp"
#include "core/json_reader.hpp"
#include "executor/rendezvous.hpp"
#include "executor/run_json.hpp"

extern char** environ;

namespace shardplan::cli {

namespace fs = std::filesystem;

namespace {
// A directory of its own under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "shardplan-cuda.XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw UsageError(std::string("cannot create a temporary directory: ") + std::strerror(errno));
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string require_program() {
  const std::string p = cuda_program();
  if (p.empty())
    throw UsageError("--backend cuda: this shardplan was built without the CUDA executor (no shardplan-cuda beside it: "
                     "CMake found no CUDA compiler and toolkit, or SHARDPLAN_CUDA=OFF, or a sanitizer build); "
                     "rebuild where nvcc 12+ is installed");
  return p;
}

// Runs `program` (shardplan-cuda) with `args`; its stdout, or a UsageError with the last line of
// its stderr.
std::string run_program(const std::string& program, const std::vector<std::string>& args, const TempDir& dir) {
  std::vector<std::string> argv_s = {program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out = (dir / "stdout").string(), err = (dir / "stderr").string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw UsageError("cannot start " + argv_s[0] + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return read_input_file(out);
  // Its last line is the reason ("shardplan-cuda: ..."); say it as ours.
  std::string why = read_input_file(err);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  if (auto nl = why.rfind('\n'); nl != std::string::npos) why = why.substr(nl + 1);
  const std::string prefix = "shardplan-cuda: ";
  if (why.rfind(prefix, 0) == 0) why = why.substr(prefix.size());
  if (why.empty())
    why = WIFSIGNALED(status) ? fmt::format("shardplan-cuda was killed by signal {}", WTERMSIG(status))
                              : fmt::format("shardplan-cuda exited with status {}", WEXITSTATUS(status));
  throw UsageError(why);
}

std::string summary_of(const nlohmann::json& m) {
  std::string s = fmt::format("{} x{} ({}); datasheet figures from preset {}\n\nGEMM (cuBLAS)                        TFLOP/s\n",
                              m.value("device", ""), m.value("devices", 0), m.value("versions", ""),
                              m.value("base_preset", ""));
  for (const auto& p : m["gemm"])
    s += fmt::format("  {:<5} {:>6} x {:>6} x {:>6}  {:>9.1f}\n", p.value("math", ""), p.value("m", 0), p.value("n", 0),
                     p.value("k", 0), p.value("tflops", 0.0));
  s += fmt::format("\nfused attention: forward {:.1f}, backward {:.1f} TFLOP/s\n", m.value("attention_fwd_tflops", 0.0),
                   m.value("attention_bwd_tflops", 0.0));
  s += fmt::format("device copy {:.0f} GB/s; the executor's layernorm/GELU kernels {:.0f} GB/s ({}); kernel launch "
                   "{:.1f} us; runtime reserved {:.2f} GiB\n",
                   m.value("copy_GBps", 0.0), m.value("pointwise_GBps", 0.0), m.value("pointwise_detail", ""),
                   m.value("launch_us", 0.0), m.value("reserved_bytes", 0.0) / double(1 << 30));
  for (const auto& p : m["all_reduce"])
    s += fmt::format("NCCL all-reduce of {} B: {:.1f} us, bus bandwidth {:.1f} GB/s\n", p.value("bytes", 0),
                     p.value("time_s", 0.0) * 1e6, p.value("bus_GBps", 0.0));
  s += fmt::format("\nprofile: gemm_peak_fraction {:.3f}, attention {:.3f} / {:.3f}, memory_bandwidth_fraction {:.3f}\n",
                   m.value("gemm_peak_fraction", 0.0), m.value("attention_fwd_fraction", 0.0),
                   m.value("attention_bwd_fraction", 0.0), m.value("memory_bandwidth_fraction", 0.0));
  return s;
}
}  // namespace

std::string cuda_program() {
  const fs::path p = fs::path(program_dir()) / "shardplan-cuda";
  return !program_dir().empty() && ::access(p.c_str(), X_OK) == 0 ? p.string() : "";
}

std::optional<executor::RunReport> run_on_cuda(const executor::RunOptions& r, int nproc,
                                               std::chrono::seconds comm_timeout) {
  const std::string program = require_program();
  TempDir dir;
  const fs::path options = dir / "options.json";
  std::ofstream(options) << executor::run_options_to_json(r);
  const std::string report = run_program(program, {"run", "--options", options.string(), "--nproc", std::to_string(nproc),
                                          "--comm-timeout", std::to_string(comm_timeout.count())},
                                         dir);
  // Under mpirun/PMI/torchrun only rank 0 reports (shardplan-cuda checked the environment).
  if (const auto env = executor::launch_env(); env && env->rank != 0) return std::nullopt;
  return executor::run_report_from_json(report, "shardplan-cuda run's report");
}

CudaCalibrationResult calibrate_on_cuda(const std::string& gpu_preset, double seconds_per_point) {
  const std::string program = require_program();
  TempDir dir;
  const fs::path profile = dir / "profile.json";
  std::vector<std::string> args = {"calibrate", "--out", profile.string(), "--json", "--seconds-per-point",
                                   fmt::format("{}", seconds_per_point)};
  if (!gpu_preset.empty()) args.insert(args.end(), {"--gpu-preset", gpu_preset});
  CudaCalibrationResult res;
  res.measurements_json = run_program(program, args, dir);
  res.profile_json = read_input_file(profile.string());
  try {
    const nlohmann::ordered_json p = nlohmann::ordered_json::parse(res.profile_json);
    res.gpu_json = p.at("gpu").dump(2) + "\n";
    res.summary = summary_of(nlohmann::json::parse(res.measurements_json));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(std::string("shardplan-cuda calibrate wrote what is not a profile: ") + e.what());
  }
  return res;
}

}  // namespace shardplan::cli
