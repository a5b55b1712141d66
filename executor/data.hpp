// Training tokens: a deterministic synthetic stream from a seed, or a binary token file.
// Token file formats (little-endian), told apart by the first four bytes:
//  * llm.c's: a 256 × int32 header {20240520, version, token count, 0...}, then the tokens as
//    uint16 (version 1) or uint32 (version 2);
//  * anything else: headerless uint16 tokens (nanoGPT's train.bin).
// The file is read into memory at open. Sequence i of a run (step·global_batch + j) reads
// seq_len+1 tokens from offset (i·seq_len) mod (count - seq_len): inputs, and targets shifted by one.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shardplan::executor {

class TokenSource {
 public:
  // A learnable stream: each token is (7·previous + 3) mod vocab, replaced by a uniformly
  // random token a quarter of the time; a pure function of (seed, sequence, position).
  static TokenSource synthetic(uint64_t seed);
  // Throws std::runtime_error naming the file when it cannot be read, is malformed, holds fewer
  // than seq_len+1 tokens, or has a token >= vocab.
  static TokenSource open(const std::string& path, int64_t vocab, int64_t seq_len);

  // Writes seq_len+1 tokens of sequence `index` to out. Thread-safe (read-only).
  void sequence(int64_t index, int64_t seq_len, int64_t vocab, int32_t* out) const;

 private:
  uint64_t seed_ = 0;
  std::shared_ptr<const std::vector<uint32_t>> tokens_;  // null: synthetic
};

// Writes a token file in llm.c's format (version 1 = uint16 if every token fits, else 2).
void write_token_file(const std::string& path, const std::vector<uint32_t>& tokens);

}  // namespace shardplan::executor
