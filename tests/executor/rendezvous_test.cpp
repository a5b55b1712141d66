// Ranks started by mpirun / PMI / torchrun (executor/rendezvous.hpp): the environment read as
// the launchers write it, and the TCP rendezvous on localhost with threads as ranks.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <stdexcept>
#include <string>
#include <thread>

#include "executor/rendezvous.hpp"

using namespace shardplan::executor;

namespace {
std::function<const char*(const char*)> env_of(const std::map<std::string, std::string>& m) {
  return [m](const char* k) -> const char* {
    auto it = m.find(k);
    return it == m.end() ? nullptr : it->second.c_str();
  };
}

// A port nothing listens on now (bound to 0, read back, closed).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("launch env: OpenMPI, PMI and torchrun variables; none, or a world of one, is no launch") {
  const auto ompi = launch_env(env_of({{"OMPI_COMM_WORLD_RANK", "5"}, {"OMPI_COMM_WORLD_SIZE", "16"},
                                       {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
                                       {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}}));
  REQUIRE(ompi);
  CHECK(ompi->rank == 5);
  CHECK(ompi->size == 16);
  CHECK(ompi->local_rank == 1);
  CHECK(ompi->local_size == 4);
  CHECK(ompi->launcher == "mpirun (OpenMPI)");
  CHECK(ompi->master_addr == "node0");
  CHECK(ompi->master_port == 29500);
  const auto torchrun = launch_env(env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}));
  REQUIRE(torchrun);
  CHECK(torchrun->local_rank == 1);  // no LOCAL_RANK: one host
  CHECK(torchrun->launcher == "torchrun");
  CHECK_FALSE(launch_env(env_of({})));
  CHECK_FALSE(launch_env(env_of({{"PMI_RANK", "0"}, {"PMI_SIZE", "1"}})));
  // A world of several ranks needs rank 0's address; bad values are named.
  CHECK(error_of([] { launch_env(env_of({{"PMI_RANK", "0"}, {"PMI_SIZE", "2"}})); }).find("MASTER_ADDR and MASTER_PORT are not set") !=
        std::string::npos);
  CHECK(error_of([] { launch_env(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}));
        }) == "RANK=2 is not below WORLD_SIZE=2");
  CHECK(error_of([] { launch_env(env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}})); }) ==
        "RANK=x: expected a non-negative whole number");
  CHECK(error_of([] { launch_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}));
        }) == "MASTER_PORT=70000: expected a port from 1 to 65535");
}

TEST_CASE("rendezvous: rank 0 hands every rank a blob and gathers one text from each") {
  const int port = free_port();
  const int n = 3;
  std::vector<std::string> got(n), errors(n);
  std::vector<std::vector<std::string>> gathered(n);
  std::vector<std::thread> ranks;
  for (int r = 0; r < n; ++r)
    ranks.emplace_back([&, r] {
      try {
        LaunchEnv e{r, n, r, n, "test", "127.0.0.1", port};
        Rendezvous rv(e, std::chrono::seconds(20));
        got[r] = rv.broadcast(r == 0 ? std::string(128, '\x07') : "ignored");
        gathered[r] = rv.gather("report of rank " + std::to_string(r));
      } catch (const std::exception& ex) {
        errors[r] = ex.what();
      }
    });
  for (auto& t : ranks) t.join();
  for (int r = 0; r < n; ++r) {
    CAPTURE(r);
    CHECK(errors[r].empty());
    CHECK(got[r] == std::string(128, '\x07'));
  }
  CHECK(gathered[0] == std::vector<std::string>{"report of rank 0", "report of rank 1", "report of rank 2"});
  CHECK(gathered[1].empty());
}

TEST_CASE("rendezvous: ranks that never meet end with a clear error, not a hang") {
  const int port = free_port();
  // Rank 0 of two waits for a rank 1 that never comes.
  CHECK(error_of([&] { Rendezvous(LaunchEnv{0, 2, 0, 2, "test", "127.0.0.1", port}, std::chrono::seconds(1)); }) ==
        "rendezvous: 1 of 2 ranks met at port " + std::to_string(port) + " within 1 s");
  // Rank 1 finds nobody at rank 0's address.
  const std::string e =
      error_of([&] { Rendezvous(LaunchEnv{1, 2, 1, 2, "test", "127.0.0.1", port}, std::chrono::seconds(1)); });
  CHECK(e.rfind("rendezvous: rank 1 cannot reach rank 0 at 127.0.0.1:" + std::to_string(port) + " within 1 s", 0) == 0);
}
