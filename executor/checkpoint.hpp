// Per-rank checkpoints: <dir>/rank-NNNNN.ckpt holds the rank's owned parameters, AdamW moments
// and step count, with the plan it was written under and an FNV-1a checksum. Written to a temp
// file, fsynced, renamed over the old one, directory fsynced: a crash leaves the old or the new
// checkpoint, never a torn one. Loading refuses a corrupt file or one from another plan.
#pragma once
#include <string>

#include "executor/rank_trainer.hpp"
#include "executor/run.hpp"

namespace shardplan::executor {

std::string checkpoint_path(const std::string& dir, int rank);

template <class T>
void save_checkpoint(const std::string& dir, const RunOptions& o, int rank, RankTrainer<T>& t);
// Collective over the world (the ranks agree on the step). Throws std::runtime_error.
template <class T>
void load_checkpoint(const std::string& dir, const RunOptions& o, int rank, RankTrainer<T>& t);

}  // namespace shardplan::executor
