// Checkpoint file format (little-endian):
//   "SPCKPT01" | u32 element bytes | i64 steps done | u64 plan-text length | plan text |
//   u64 array count | per array: u64 elements, raw elements | u64 FNV-1a of all bytes before.
// The plan text (model JSON, strategy string, seed, rank) must match the resuming run's.
#include "executor/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string_view>

#include "core/atomic_file.hpp"
#include "executor/layout.hpp"

namespace shardplan::executor {

namespace {
constexpr char kMagic[8] = {'S', 'P', 'C', 'K', 'P', 'T', '0', '1'};

uint64_t fnv1a(const std::vector<char>& b, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(b[i])) * 1099511628211ULL;
  return h;
}

// What the saved state depends on: the model, the sharding, the data order, and the rank layout
// that maps a rank file to its (dp, pp, tp) shard (files from before the plan-file order,
// rank = (dp*pp + pp)*tp + tp, hold other shards under the same names and are refused). (Recompute,
// the schedule and the micro-batch size may change between runs; they change no state.)
std::string plan_text(const RunOptions& o, int rank) {
  const Strategy& s = o.strategy;
  auto n = [](int64_t v) { return std::to_string(v); };
  const RankCoords c = RankLayout{int(s.dp), int(s.pp), int(s.tp)}.coords(rank);
  return model_spec_to_json_text(o.model, -1) + "\ndp=" + n(s.dp) + ",tp=" + n(s.tp) +
         ",pp=" + n(s.pp) + ",vp=" + n(s.vp) + ",zero=" + n(s.zero) +
         ",global_batch=" + n(s.global_batch) + ",seq_len=" + n(s.seq_len) +
         " seed=" + std::to_string(o.seed) + " rank=" + n(rank) + " layout=tp-dp-pp (dp " +
         n(c.dp) + ", pp " + n(c.pp) + ", tp " + n(c.tp) + ")";
}

template <class V>
void put(std::vector<char>& b, V v) {
  const char* p = reinterpret_cast<const char*>(&v);
  b.insert(b.end(), p, p + sizeof(V));
}

struct Reader {
  const std::vector<char>& b;
  size_t pos;
  const std::string& file;
  template <class V> V get() {
    if (pos + sizeof(V) > b.size()) throw std::runtime_error("checkpoint " + file + " is truncated");
    V v;
    std::memcpy(&v, b.data() + pos, sizeof(V));
    pos += sizeof(V);
    return v;
  }
};

}  // namespace

std::string checkpoint_path(const std::string& dir, int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank-%05d.ckpt", rank);
  return (std::filesystem::path(dir) / name).string();
}

template <class T>
void save_checkpoint(const std::string& dir, const RunOptions& o, int rank, RankTrainer<T>& t) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("checkpoint directory " + dir + ": " + ec.message());
  std::vector<char> b(kMagic, kMagic + 8);
  put<uint32_t>(b, sizeof(T));
  put<int64_t>(b, t.steps_done());
  const std::string plan = plan_text(o, rank);
  put<uint64_t>(b, plan.size());
  b.insert(b.end(), plan.begin(), plan.end());
  std::vector<Buffer<T>*> arrays;
  for (Unit<T>* u : t.units())
    for (Buffer<T>* a : u->state()) arrays.push_back(a);
  put<uint64_t>(b, arrays.size());
  for (Buffer<T>* a : arrays) {
    put<uint64_t>(b, static_cast<uint64_t>(a->size()));
    const char* p = reinterpret_cast<const char*>(a->data());
    b.insert(b.end(), p, p + a->bytes());
  }
  put<uint64_t>(b, fnv1a(b, b.size()));
  write_file_atomically(checkpoint_path(dir, rank), std::string_view(b.data(), b.size()));
}

template <class T>
void load_checkpoint(const std::string& dir, const RunOptions& o, int rank, RankTrainer<T>& t) {
  const std::string file = checkpoint_path(dir, rank);
  std::ifstream f(file, std::ios::binary);
  if (!f) throw std::runtime_error("checkpoint " + file + " cannot be opened (nothing to resume)");
  const std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto fail = [&](const std::string& why) { throw std::runtime_error("checkpoint " + file + " " + why); };
  if (b.size() < 8 + 8 || std::memcmp(b.data(), kMagic, 8) != 0) fail("is not a shardplan checkpoint");
  uint64_t stored = 0;
  std::memcpy(&stored, b.data() + b.size() - 8, 8);
  if (stored != fnv1a(b, b.size() - 8)) fail("is corrupt (checksum mismatch); refusing to resume");
  Reader r{b, 8, file};
  if (r.get<uint32_t>() != sizeof(T)) fail("holds another element type");
  const int64_t steps = r.get<int64_t>();
  const uint64_t plan_len = r.get<uint64_t>();
  if (r.pos + plan_len > b.size()) fail("is truncated");
  const std::string plan(b.data() + r.pos, plan_len);
  r.pos += plan_len;
  if (plan != plan_text(o, rank))
    fail("was written for another plan or model:\n" + plan + "\nthis run is:\n" + plan_text(o, rank));
  std::vector<Buffer<T>*> arrays;
  for (Unit<T>* u : t.units())
    for (Buffer<T>* a : u->state()) arrays.push_back(a);
  if (r.get<uint64_t>() != arrays.size()) fail("has another number of arrays");
  for (Buffer<T>* a : arrays) {
    if (r.get<uint64_t>() != static_cast<uint64_t>(a->size())) fail("has an array of another size");
    if (r.pos + a->bytes() > b.size() - 8) fail("is truncated");
    std::memcpy(a->data(), b.data() + r.pos, a->bytes());
    r.pos += a->bytes();
  }
  // Every rank must resume from the same step (a crash between ranks' saves would differ).
  double range[2] = {double(steps), -double(steps)};
  t.world().all_reduce(range, 2, ReduceOp::max);
  if (range[0] != -range[1])
    throw std::runtime_error("checkpoints in " + dir + " are from different steps (" +
                             std::to_string(-range[1]) + " to " + std::to_string(range[0]) + ")");
  t.set_steps_done(steps);
}

template void save_checkpoint(const std::string&, const RunOptions&, int, RankTrainer<float>&);
template void save_checkpoint(const std::string&, const RunOptions&, int, RankTrainer<double>&);
template void load_checkpoint(const std::string&, const RunOptions&, int, RankTrainer<float>&);
template void load_checkpoint(const std::string&, const RunOptions&, int, RankTrainer<double>&);

}  // namespace shardplan::executor
