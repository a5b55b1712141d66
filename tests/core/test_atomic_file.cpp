// write_file_atomically: the target holds the old or the new bytes, never a mix; no temporary is
// left behind; a failure is a UsageError naming the file and leaves the old file alone.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

using namespace shardplan;
namespace fs = std::filesystem;

namespace {
std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("atomic file: writes, replaces, and leaves no temporary") {
  const fs::path dir = fs::temp_directory_path() / ("shardplan_atomic_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path target = dir / "out.json";
  write_file_atomically(target.string(), "first\n");
  CHECK(read_all(target) == "first\n");
  const std::string big(3'000'000, 'x');  // larger than any single write() needs to be
  write_file_atomically(target.string(), big);
  CHECK(read_all(target) == big);
  write_file_atomically(target.string(), "");
  CHECK(fs::exists(target));
  CHECK(fs::file_size(target) == 0);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.path() != target;
  CHECK(entries == 0);  // no out.json.tmp.<pid> left
  // A directory that does not exist: a UsageError that names the file; nothing created.
  const fs::path missing = dir / "no-such-dir" / "out.json";
  CHECK_THROWS_WITH_AS(write_file_atomically(missing.string(), "x"), doctest::Contains(missing.string().c_str()), UsageError);
  CHECK_FALSE(fs::exists(missing));
  // The target is a directory: rename fails, the temporary is removed, the directory is intact.
  fs::create_directories(dir / "taken");
  CHECK_THROWS_AS(write_file_atomically((dir / "taken").string(), "x"), UsageError);
  CHECK(fs::is_directory(dir / "taken"));
  entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.path().filename().string().find(".tmp.") != std::string::npos;
  CHECK(entries == 0);
  fs::remove_all(dir);
}
