// rendezvous.hpp: environment parsing and a plain TCP star around rank 0. Every message is a
// 4-byte rank (on connect) or an 8-byte length and that many bytes; reads and connects give up
// at the deadline.
#include "executor/rendezvous.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace shardplan::executor {

namespace {
using Clock = std::chrono::steady_clock;

int to_int(const char* name, const char* v) {
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(v, &end, 10);
  if (errno || end == v || *end || x < 0 || x > 1 << 30)
    throw std::runtime_error(std::string(name) + "=" + v + ": expected a non-negative whole number");
  return static_cast<int>(x);
}

int left_ms(Clock::time_point deadline) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms > 0 ? static_cast<int>(ms) : 0;
}

void send_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw std::runtime_error(std::string("rendezvous: send: ") + std::strerror(errno));
    p += w, n -= static_cast<size_t>(w);
  }
}

// False when the peer closed the connection before `n` bytes.
bool recv_all(int fd, void* data, size_t n, Clock::time_point deadline) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    pollfd q{fd, POLLIN, 0};
    const int r = ::poll(&q, 1, left_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) throw std::runtime_error("rendezvous: timed out waiting for another rank");
    const ssize_t k = ::recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k, n -= static_cast<size_t>(k);
  }
  return true;
}

void send_message(int fd, const std::string& s) {
  const uint64_t n = s.size();
  send_all(fd, &n, sizeof n);
  send_all(fd, s.data(), s.size());
}

std::optional<std::string> recv_message(int fd, Clock::time_point deadline) {
  uint64_t n = 0;
  if (!recv_all(fd, &n, sizeof n, deadline)) return std::nullopt;
  if (n > (uint64_t(1) << 30)) throw std::runtime_error("rendezvous: a message of " + std::to_string(n) + " bytes");
  std::string s(n, '\0');
  if (!recv_all(fd, s.data(), n, deadline)) return std::nullopt;
  return s;
}
}  // namespace

std::optional<LaunchEnv> launch_env(const std::function<const char*(const char*)>& getenv_fn) {
  auto get = [&](const char* k) -> const char* { return getenv_fn ? getenv_fn(k) : std::getenv(k); };
  struct Names {
    const char *launcher, *rank, *size, *local_rank, *local_size;
  };
  const Names kinds[] = {
      {"mpirun (OpenMPI)", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
       "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {"PMI", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"}};
  for (const Names& k : kinds) {
    const char *rank = get(k.rank), *size = get(k.size);
    if (!rank || !size) continue;
    LaunchEnv e;
    e.launcher = k.launcher;
    e.rank = to_int(k.rank, rank);
    e.size = to_int(k.size, size);
    if (e.size < 2) return std::nullopt;
    if (e.rank >= e.size)
      throw std::runtime_error(std::string(k.rank) + "=" + rank + " is not below " + k.size + "=" + size);
    const char *lr = get(k.local_rank), *ls = get(k.local_size);
    e.local_rank = lr ? to_int(k.local_rank, lr) : e.rank;
    e.local_size = ls ? to_int(k.local_size, ls) : e.size;
    if (e.local_rank >= e.local_size)
      throw std::runtime_error(std::string(k.local_rank) + " is not below " + k.local_size);
    const char *addr = get("MASTER_ADDR"), *port = get("MASTER_PORT");
    if (!addr || !*addr || !port)
      throw std::runtime_error(std::string("started by ") + k.launcher + " as rank " + rank + " of " + size +
                               ", but MASTER_ADDR and MASTER_PORT are not set: give rank 0's host and a free "
                               "port (mpirun -x MASTER_ADDR=<host> -x MASTER_PORT=29500)");
    e.master_addr = addr;
    e.master_port = to_int("MASTER_PORT", port);
    if (e.master_port < 1 || e.master_port > 65535)
      throw std::runtime_error(std::string("MASTER_PORT=") + port + ": expected a port from 1 to 65535");
    return e;
  }
  return std::nullopt;
}

Rendezvous::Rendezvous(const LaunchEnv& env, std::chrono::seconds timeout) : env_(env), timeout_(timeout) {
  try {
    meet();
  } catch (...) {
    close_all();  // a throwing constructor runs no destructor
    throw;
  }
}

void Rendezvous::meet() {
  const LaunchEnv& env = env_;
  const std::chrono::seconds timeout = timeout_;
  const auto deadline = Clock::now() + timeout;
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  if (env.rank == 0) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error(std::string("rendezvous: socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons(static_cast<uint16_t>(env.master_port));
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, env.size) != 0) {
      const std::string why = std::strerror(errno);
      throw std::runtime_error("rendezvous: rank 0 cannot listen on port " + std::to_string(env.master_port) + ": " +
                               why + " (MASTER_PORT)");
    }
    peers_.assign(env.size, -1);
    for (int joined = 1; joined < env.size;) {
      pollfd q{listen_fd_, POLLIN, 0};
      const int r = ::poll(&q, 1, left_ms(deadline));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        throw std::runtime_error("rendezvous: " + std::to_string(joined) + " of " + std::to_string(env.size) +
                                 " ranks met at port " + std::to_string(env.master_port) + " within " +
                                 std::to_string(timeout.count()) + " s");
      }
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      int32_t rank = -1;
      bool said = false;
      try {
        said = recv_all(fd, &rank, sizeof rank, deadline);
      } catch (...) {
        ::close(fd);
        throw;
      }
      if (!said || rank < 1 || rank >= env.size || peers_[rank] >= 0) {
        ::close(fd);  // not one of ours, or a duplicate
        continue;
      }
      peers_[rank] = fd;
      ++joined;
    }
    return;
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(env.master_port);
  if (const int g = ::getaddrinfo(env.master_addr.c_str(), port.c_str(), &hints, &res); g != 0)
    throw std::runtime_error("rendezvous: MASTER_ADDR " + env.master_addr + ": " + ::gai_strerror(g));
  int fd = -1;
  for (;;) {  // rank 0 may not listen yet: retry until the deadline
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) break;
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    fd = -1;
    if (left_ms(deadline) == 0) {
      ::freeaddrinfo(res);
      throw std::runtime_error("rendezvous: rank " + std::to_string(env.rank) + " cannot reach rank 0 at " + where +
                               " within " + std::to_string(timeout.count()) + " s: " + why);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::freeaddrinfo(res);
  peers_ = {fd};
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int32_t rank = env.rank;
  send_all(fd, &rank, sizeof rank);
}

Rendezvous::~Rendezvous() { close_all(); }

void Rendezvous::close_all() {
  for (int& fd : peers_)
    if (fd >= 0) ::close(fd), fd = -1;
  if (listen_fd_ >= 0) ::close(listen_fd_), listen_fd_ = -1;
}

std::string Rendezvous::broadcast(const std::string& from_rank0) {
  const auto deadline = Clock::now() + timeout_;
  if (env_.rank == 0) {
    for (int r = 1; r < env_.size; ++r) send_message(peers_[r], from_rank0);
    return from_rank0;
  }
  const auto got = recv_message(peers_[0], deadline);
  if (!got) throw std::runtime_error("rendezvous: rank 0 left before it sent what every rank needs");
  return *got;
}

std::vector<std::string> Rendezvous::gather(const std::string& text) {
  if (env_.rank != 0) {
    send_message(peers_[0], text);
    return {};
  }
  // The others finish their last step about when rank 0 does; a hung one ends by its own
  // communication timeout (the same `timeout`) and then reports.
  const auto deadline = Clock::now() + 2 * timeout_;
  std::vector<std::string> all(env_.size);
  all[0] = text;
  for (int r = 1; r < env_.size; ++r) {
    const auto got = recv_message(peers_[r], deadline);
    all[r] = got ? *got : "error rank " + std::to_string(r) + " left without a report\n";
  }
  return all;
}

}  // namespace shardplan::executor
