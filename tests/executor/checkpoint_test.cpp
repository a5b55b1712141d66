// Checkpoints: a resumed run reproduces the uninterrupted one bit for bit; corrupt, mismatched
// or missing checkpoints are refused with a message; no temp files are left behind.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "executor/checkpoint.hpp"
#include "executor/train.hpp"
#include "tiny_model.hpp"

using namespace shardplan;
using namespace shardplan::executor;
using testing::options;
using testing::tiny;

namespace {
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("shardplan-executor-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};
}  // namespace

TEST_CASE("resuming from a checkpoint gives the uninterrupted run's losses and weights") {
  for (const char* plan : {"dp=1", "tp=2,pp=2,dp=2,zero=2,sp", "pp=2,dp=2,zero=3,schedule=zb"}) {
    INFO(plan);
    TempDir dir(std::string("resume") + std::to_string(std::hash<std::string>()(plan) % 1000));
    RunOptions o = options(tiny(true), plan, 5);
    ParamStore<float> straight_params, resumed_params;
    const RunReport straight = train<float>(o, &straight_params);

    o.steps = 3;
    o.checkpoint_dir = dir.path.string();
    const RunReport first = train<float>(o);
    CHECK(first.losses.size() == 3);
    o.steps = 5;
    o.resume = true;
    const RunReport rest = train<float>(o, &resumed_params);
    REQUIRE(rest.losses.size() == 2);
    CHECK(rest.losses[0] == straight.losses[3]);
    CHECK(rest.losses[1] == straight.losses[4]);
    CHECK(resumed_params.tensors == straight_params.tensors);
    for (const auto& e : std::filesystem::directory_iterator(dir.path))
      CHECK(e.path().extension() == ".ckpt");  // no .tmp left
  }
}

TEST_CASE("corrupt, mismatched and missing checkpoints are refused") {
  TempDir dir("refuse");
  RunOptions o = options(tiny(), "dp=2", 1);
  o.checkpoint_dir = dir.path.string();
  run_training(o);
  o.resume = true;
  o.steps = 2;
  SUBCASE("a flipped byte") {
    const std::string file = checkpoint_path(dir.path.string(), 1);
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    char c = 0;
    f.read(&c, 1);
    f.seekp(200);
    c = static_cast<char>(c ^ 0x10);
    f.write(&c, 1);
    f.close();
    CHECK_THROWS_WITH_AS(run_training(o), doctest::Contains("corrupt (checksum mismatch)"), std::runtime_error);
  }
  SUBCASE("a truncated file") {
    const std::string file = checkpoint_path(dir.path.string(), 0);
    std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
    CHECK_THROWS_WITH_AS(run_training(o), doctest::Contains("corrupt"), std::runtime_error);
  }
  SUBCASE("another plan") {
    o.strategy.zero = 1;
    CHECK_THROWS_WITH_AS(run_training(o), doctest::Contains("another plan"), std::runtime_error);
  }
  SUBCASE("no checkpoint") {
    o.checkpoint_dir = (dir.path / "nothing").string();
    CHECK_THROWS_WITH_AS(run_training(o), doctest::Contains("cannot be opened"), std::runtime_error);
  }
  SUBCASE("a resume past the last step trains nothing") {
    o.steps = 1;
    CHECK(run_training(o).losses.empty());
  }
}
