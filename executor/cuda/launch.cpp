// The multi-process run (run_cuda.hpp, nproc > 1): fork one child per rank (which either runs
// the rank directly or execs worker_exe in worker mode, reading the run's options from a file);
// rank 0 makes the ncclUniqueId and writes it into a pipe to every other child; each child trains
// its rank on GPU `rank` over NCCL and writes a text report (or its error) into its result pipe;
// the parent collects them, and after the first failure gives the others comm_timeout + a grace
// period to end on their own (their NCCL watchdogs abort) before killing them.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "executor/cuda/comm_nccl.hpp"
#include "executor/cuda/launch_internal.hpp"
#include "executor/cuda/run_cuda.hpp"
#include "executor/cuda/trainer.hpp"
#include "core/json_reader.hpp"
#include "executor/run_json.hpp"

namespace shardplan::executor::cuda {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kGrace = std::chrono::seconds(15);

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t w = ::write(fd, s.data() + done, s.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // the parent is gone; nothing to report to
    done += static_cast<size_t>(w);
  }
}

// Reads exactly `n` bytes within `timeout`, or throws.
void read_exactly(int fd, char* out, size_t n, std::chrono::seconds timeout, const char* what) {
  const auto deadline = Clock::now() + timeout;
  size_t got = 0;
  while (got < n) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) throw std::runtime_error(std::string("timed out waiting for ") + what);
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    const ssize_t k = ::read(fd, out + got, n - got);
    if (k == 0) throw std::runtime_error(std::string("rank 0 exited before sending ") + what);
    if (k < 0 && errno != EINTR)
      throw std::runtime_error(std::string("reading ") + what + ": " + std::strerror(errno));
    if (k > 0) got += static_cast<size_t>(k);
  }
}

std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

}  // namespace

std::string run_rank(const RunOptions& o, int rank, int nproc, int device, int local_ranks,
                     const std::function<void(NcclId&)>& share_id, std::chrono::seconds timeout) {
  const std::string gpu = no_gpu_reason();
  if (!gpu.empty()) throw std::runtime_error("cannot run on the CUDA backend: " + gpu);
  const int devices = device_count();
  if (devices < local_ranks)
    throw std::runtime_error(std::to_string(local_ranks) + " processes on this host need " +
                             std::to_string(local_ranks) + " GPUs, found " + std::to_string(devices) +
                             " (NCCL cannot put two ranks of one communicator on one GPU; nproc 1 "
                             "runs every rank on one GPU with the local communicator)");
  use_device(device);
  reset_pool_peak(device);
  NcclId id;
  if (rank == 0) id = nccl_unique_id();
  share_id(id);
  const Strategy& s = o.strategy;
  const RankLayout layout{static_cast<int>(s.dp), static_cast<int>(s.pp), static_cast<int>(s.tp)};
  const TrainConfig cfg = train_config(o);
  const Stream stream = create_stream();
  Blas blas(stream);
  NcclWorld world(id, nproc, rank, stream, timeout);
  CudaRankComms comms;
  comms.world = world.world();
  comms.tp = world.split(layout.tp_group(rank));
  comms.dp = world.split(layout.dp_group(rank));
  if (o.model.tied_embeddings && s.pp > 1) {  // every rank takes part in the split
    const RankCoords at = layout.coords(rank);
    const bool member = at.pp == 0 || at.pp == s.pp - 1;
    comms.emb = world.split(member ? layout.embedding_group(rank) : std::vector<int>{});
  }
  world.connect_pairs(pipeline_links(s), kPipelineChannels);
  MemoryTracker mem;
  CudaRankTrainer trainer(cfg, rank, std::move(comms), mem, stream, blas);
  std::ostringstream out;
  trainer.world().barrier();
  for (int64_t step = 0; step < o.steps; ++step) {
    const auto t0 = Clock::now();
    const double loss = trainer.train_step(step);
    trainer.world().barrier();
    out << "step " << num(loss) << " " << num(trainer.last_grad_norm()) << " "
        << num(std::chrono::duration<double>(Clock::now() - t0).count()) << "\n";
  }
  const RankMemory m = mem.snapshot(rank);
  out << "mem " << m.peak_total_bytes;
  for (int64_t b : m.peak_bytes) out << " " << b;
  for (int64_t b : m.current_bytes) out << " " << b;
  out << "\ndevice " << pool_reserved_peak_bytes(device) << "\nok\n";
  return out.str();
}

namespace {

// The child's whole life: run the rank, report into result_fd, return the exit status.
int child_body(const RunOptions& o, int rank, int nproc, const std::vector<int>& id_out, int id_in,
               int result_fd, std::chrono::seconds timeout) {
  int code = 0;
  std::string text;
  // Rank 0 writes the id into a pipe to every other child; they read theirs.
  auto share = [&](NcclId& id) {
    if (rank == 0) {
      for (int fd : id_out) write_all(fd, std::string(id.bytes.data(), id.bytes.size()));
    } else {
      read_exactly(id_in, id.bytes.data(), id.bytes.size(), timeout, "the NCCL unique id");
    }
  };
  try {
    text = run_rank(o, rank, nproc, rank, nproc, share, timeout);
  } catch (const std::exception& e) {
    text = std::string("error ") + e.what() + "\n";
    code = 1;
  }
  write_all(result_fd, text);
  ::close(result_fd);
  return code;
}

struct Child {
  pid_t pid = -1;
  int fd = -1;  // result pipe, read end
  std::string text;
  bool exited = false;
  int status = 0;
};

}  // namespace

void parse_report(const std::string& text, int rank, RunReport& r) {
  std::istringstream in(text);
  std::string key;
  while (in >> key) {
    if (key == "step") {
      double loss = 0, norm = 0, t = 0;
      in >> loss >> norm >> t;
      if (rank == 0)
        r.losses.push_back(loss), r.grad_norms.push_back(norm), r.step_times_s.push_back(t);
    } else if (key == "mem") {
      RankMemory m;
      m.rank = rank;
      in >> m.peak_total_bytes;
      for (auto& b : m.peak_bytes) in >> b;
      for (auto& b : m.current_bytes) in >> b;
      r.peak_bytes_per_rank[rank] = m;
    } else if (key == "device") {
      in >> r.device_peak_bytes[rank];
    }
  }
}

std::string report_error(const std::string& text) {
  const auto at = text.find("error ");
  if (at == std::string::npos) return "";
  std::string why = text.substr(at + 6);
  while (!why.empty() && why.back() == '\n') why.pop_back();
  return why;
}

namespace {

std::string child_error(const Child& c) {
  if (std::string why = report_error(c.text); !why.empty()) return why;
  if (c.exited && WIFSIGNALED(c.status))
    return "killed by signal " + std::to_string(WTERMSIG(c.status));
  if (c.exited && WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0)
    return "exited with status " + std::to_string(WEXITSTATUS(c.status)) + " without a report";
  if (c.exited && !c.text.ends_with("ok\n")) return "exited without a complete report";
  return "";
}

}  // namespace

RunReport train_multiprocess(const RunOptions& o, int nproc, std::chrono::seconds timeout,
                             const std::string& worker_exe) {
  std::string options_file;
  if (!worker_exe.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/shardplan-cuda-run-XXXXXX";
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) throw std::runtime_error("mkstemp " + pattern + ": " + std::strerror(errno));
    write_all(fd, run_options_to_json(o));
    ::close(fd);
    options_file = pattern;
  }
  struct Remove {
    std::string path;
    ~Remove() {
      if (!path.empty()) ::unlink(path.c_str());
    }
  } remove_options{options_file};
  std::vector<std::array<int, 2>> result(nproc), ids(nproc);
  for (int r = 0; r < nproc; ++r) {
    if (::pipe(result[r].data()) != 0 || ::pipe(ids[r].data()) != 0)
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  std::fflush(nullptr);  // no buffered output duplicated into the children
  std::vector<Child> kids(nproc);
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (int k = 0; k < r; ++k) ::kill(kids[k].pid, SIGKILL);
      throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {  // child: never returns into the caller
      std::vector<int> id_out;
      for (int k = 0; k < nproc; ++k) {
        ::close(result[k][0]);
        if (k != r) ::close(result[k][1]);
        if (k != r) ::close(ids[k][0]);
        if (r == 0 && k != 0)
          id_out.push_back(ids[k][1]);
        else
          ::close(ids[k][1]);
      }
      if (!worker_exe.empty()) {  // a fresh process: CUDA state does not survive fork
        std::string outs;
        for (int fd : id_out) outs += (outs.empty() ? "" : ",") + std::to_string(fd);
        const std::string env = std::to_string(r) + " " + std::to_string(nproc) + " " +
                                std::to_string(ids[r][0]) + " " + std::to_string(result[r][1]) +
                                " " + std::to_string(timeout.count()) + " " + options_file + " " +
                                (outs.empty() ? "-" : outs);
        ::setenv(kWorkerEnv, env.c_str(), 1);
        const std::string arg = kCudaWorkerArg;
        char* argv[] = {const_cast<char*>(worker_exe.c_str()), const_cast<char*>(arg.c_str()),
                        nullptr};
        ::execv(worker_exe.c_str(), argv);
        write_all(result[r][1], "error exec " + worker_exe + ": " + std::strerror(errno) + "\n");
        ::_exit(1);
      }
      const int code = child_body(o, r, nproc, id_out, ids[r][0], result[r][1], timeout);
      std::fflush(nullptr);
      ::_exit(code);
    }
    kids[r].pid = pid;
  }
  for (int r = 0; r < nproc; ++r) {
    ::close(result[r][1]);
    ::close(ids[r][0]);
    ::close(ids[r][1]);
    kids[r].fd = result[r][0];
  }
  // Collect reports until every child has exited.
  std::optional<Clock::time_point> kill_at;
  int first_failed = -1;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<int> who;
    for (int r = 0; r < nproc; ++r)
      if (kids[r].fd >= 0) fds.push_back({kids[r].fd, POLLIN, 0}), who.push_back(r);
    if (!fds.empty()) ::poll(fds.data(), fds.size(), 100);
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Child& c = kids[who[i]];
      char buf[4096];
      const ssize_t k = ::read(c.fd, buf, sizeof buf);
      if (k > 0)
        c.text.append(buf, static_cast<size_t>(k));
      else if (k == 0 || errno != EINTR)
        ::close(c.fd), c.fd = -1;
    }
    bool all_done = true;
    for (int r = 0; r < nproc; ++r) {
      Child& c = kids[r];
      if (!c.exited && ::waitpid(c.pid, &c.status, WNOHANG) == c.pid) c.exited = true;
      if (c.exited && c.fd < 0 && first_failed < 0 && !child_error(c).empty()) {
        first_failed = r;
        kill_at = Clock::now() + timeout + kGrace;
      }
      all_done = all_done && c.exited && c.fd < 0;
    }
    if (all_done) break;
    if (kill_at && Clock::now() > *kill_at)
      for (Child& c : kids)
        if (!c.exited) ::kill(c.pid, SIGKILL);
    if (fds.empty()) ::usleep(100000);
  }
  for (int r = 0; r < nproc; ++r) {
    const std::string e = child_error(kids[r]);
    if (!e.empty() && (first_failed < 0 || r == first_failed))
      throw std::runtime_error("rank " + std::to_string(r) + ": " + e);
  }
  std::vector<std::string> texts;
  for (const Child& c : kids) texts.push_back(c.text);
  return report_of(o, texts);
}

RunReport report_of(const RunOptions& o, const std::vector<std::string>& texts) {
  const int nproc = static_cast<int>(texts.size());
  RunReport report;
  report.peak_bytes_per_rank.resize(nproc);
  report.device_peak_bytes.resize(nproc);
  for (int r = 0; r < nproc; ++r) parse_report(texts[r], r, report);
  report.step_time_s = typical_step_time(report.step_times_s);
  const int64_t seq = o.strategy.seq_len_or(o.model.seq_len);
  if (report.step_time_s > 0)
    report.tokens_per_s = double(o.strategy.global_batch * seq) / report.step_time_s;
  return report;
}

}  // namespace shardplan::executor::cuda

namespace shardplan::executor {

bool run_cuda_worker_if_requested(int argc, char** argv, int* rc) {
  if (argc < 2 || std::string(argv[1]) != cuda::kCudaWorkerArg) return false;
  *rc = 1;
  const char* env = std::getenv(cuda::kWorkerEnv);
  if (!env) {
    std::fprintf(stderr, "%s: worker mode without %s\n", argv[0], cuda::kWorkerEnv);
    return true;
  }
  std::istringstream in(env);
  int rank = 0, nproc = 0, id_in = -1, result_fd = -1;
  int64_t timeout_s = 0;
  std::string options_file, outs;
  in >> rank >> nproc >> id_in >> result_fd >> timeout_s >> options_file >> outs;
  std::vector<int> id_out;
  if (outs != "-") {
    std::istringstream list(outs);
    for (std::string fd; std::getline(list, fd, ',');) id_out.push_back(std::stoi(fd));
  }
  RunOptions o;
  try {
    o = run_options_from_json(read_input_file(options_file), options_file);
  } catch (const std::exception& e) {
    cuda::write_all(result_fd, std::string("error reading the run's options ") + options_file +
                                   ": " + e.what() + "\n");
    return true;
  }
  *rc = cuda::child_body(o, rank, nproc, id_out, id_in, result_fd, std::chrono::seconds(timeout_s));
  return true;
}

}  // namespace shardplan::executor
