// Runs the built shardplan binary (SHARDPLAN_BINARY) through the shell and captures its exit
// status, stdout and stderr; a scratch directory for input files the tests write.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace shardplan_test {

struct CliResult {
  int status = -1;  // exit status, or -1 if the process did not exit normally
  std::string out, err;
};

// A directory under the system temp dir, unique to this process and `tag`, removed at the end.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag)
      : path_(std::filesystem::temp_directory_path() /
              ("shardplan_" + tag + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string write(const std::string& name, const std::string& text) const {
    std::filesystem::path p = path_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string slurp(const std::string& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `args` is appended to the quoted binary path as shell text (paths in it must be quoted).
inline CliResult run_cli(const std::string& args, const ScratchDir& dir) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  std::string cmd;  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "'" + std::string
  for (const std::string& part :
       {std::string("'"), std::string(SHARDPLAN_BINARY), std::string("' "), args,
        std::string(" >'"), out, std::string("' 2>'"), err, std::string("'")})
    cmd += part;
  int raw = std::system(cmd.c_str());
  CliResult r;
  r.status = (raw != -1 && WIFEXITED(raw)) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

inline std::string source_path(const std::string& rel) {
  return std::string(SHARDPLAN_SOURCE_DIR) + "/" + rel;
}

}  // namespace shardplan_test
