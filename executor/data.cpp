// TokenSource: the synthetic stream and the token-file reader (formats in data.hpp).
#include "executor/data.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "executor/params.hpp"

namespace shardplan::executor {

namespace {
constexpr int32_t kLlmcMagic = 20240520;
constexpr size_t kLlmcHeaderBytes = 256 * 4;

uint32_t read_le(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

TokenSource TokenSource::synthetic(uint64_t seed) {
  TokenSource s;
  s.seed_ = seed;
  return s;
}

TokenSource TokenSource::open(const std::string& path, int64_t vocab, int64_t seq_len) {
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("token file " + path + ": " + why);
  };
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("cannot be opened");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t begin = 0;
  int width = 2;
  int64_t count = static_cast<int64_t>(bytes.size() / 2);
  if (bytes.size() >= kLlmcHeaderBytes && static_cast<int32_t>(read_le(bytes.data(), 4)) == kLlmcMagic) {
    const uint32_t version = read_le(bytes.data() + 4, 4);
    if (version != 1 && version != 2)
      fail("llm.c header version " + std::to_string(version) + ", expected 1 (uint16) or 2 (uint32)");
    width = version == 1 ? 2 : 4;
    begin = kLlmcHeaderBytes;
    count = read_le(bytes.data() + 8, 4);
    if (bytes.size() != begin + static_cast<size_t>(count) * width)
      fail("header says " + std::to_string(count) + " tokens, but the file holds " +
           std::to_string((bytes.size() - begin) / width));
  } else if (bytes.size() % 2 != 0) {
    fail("odd size for headerless uint16 tokens");
  }
  if (count < seq_len + 1)
    fail("holds " + std::to_string(count) + " tokens, fewer than seq_len+1 = " + std::to_string(seq_len + 1));
  auto tokens = std::make_shared<std::vector<uint32_t>>(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t t = read_le(bytes.data() + begin + i * width, width);
    if (t >= static_cast<uint64_t>(vocab))
      fail("token " + std::to_string(t) + " at position " + std::to_string(i) +
           " is not below the model's vocab (" + std::to_string(vocab) + ")");
    (*tokens)[static_cast<size_t>(i)] = t;
  }
  TokenSource s;
  s.tokens_ = std::move(tokens);
  return s;
}

void TokenSource::sequence(int64_t index, int64_t seq_len, int64_t vocab, int32_t* out) const {
  if (tokens_) {
    const int64_t span = static_cast<int64_t>(tokens_->size()) - seq_len;
    const auto start = static_cast<int64_t>(static_cast<unsigned __int128>(index) *
                                            static_cast<unsigned __int128>(seq_len) % span);
    for (int64_t p = 0; p <= seq_len; ++p) out[p] = static_cast<int32_t>((*tokens_)[start + p]);
    return;
  }
  const uint64_t base = hash64(seed_ ^ hash64(static_cast<uint64_t>(index) + 0x5eed));
  int64_t t = static_cast<int64_t>(hash64(base) % static_cast<uint64_t>(vocab));
  for (int64_t p = 0; p <= seq_len; ++p) {
    out[p] = static_cast<int32_t>(t);
    const uint64_t h = hash64(base + static_cast<uint64_t>(p) + 1);
    t = (h & 3) == 0 ? static_cast<int64_t>((h >> 2) % static_cast<uint64_t>(vocab)) : (7 * t + 3) % vocab;
  }
}

void write_token_file(const std::string& path, const std::vector<uint32_t>& tokens) {
  uint32_t max_token = 0;
  for (uint32_t t : tokens) max_token = std::max(max_token, t);
  const int width = max_token < 65536 ? 2 : 4;
  std::vector<int32_t> header(256, 0);
  header[0] = kLlmcMagic;
  header[1] = width == 2 ? 1 : 2;
  header[2] = static_cast<int32_t>(tokens.size());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(header.data()), kLlmcHeaderBytes);
  for (uint32_t t : tokens) f.write(reinterpret_cast<const char*>(&t), width);  // little-endian host
  if (!f) throw std::runtime_error("token file " + path + ": cannot be written");
}

}  // namespace shardplan::executor
