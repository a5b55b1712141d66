// RankTrainer: pipeline passes with point-to-point activations, and the optimizer step.
#include "executor/rank_trainer.hpp"

#include <cmath>

namespace shardplan::executor {

TrainConfig train_config(const RunOptions& o, const AdamWConfig& adamw) {
  TrainConfig cfg;
  cfg.model = o.model;
  cfg.strategy = o.strategy;
  cfg.layer_bounds = o.layer_bounds;
  cfg.seed = o.seed;
  cfg.adamw = adamw;
  const int64_t seq = o.strategy.seq_len_or(o.model.seq_len);
  cfg.data = o.data_file.empty() ? TokenSource::synthetic(o.seed) : TokenSource::open(o.data_file, o.model.vocab, seq);
  return cfg;
}

template <class T>
RankTrainer<T>::RankTrainer(const TrainConfig& cfg, int rank, RankComms comms, MemoryTracker& mem)
    : cfg_(cfg), rank_(rank), comms_(std::move(comms)), mem_(&mem) {
  const Strategy& s = cfg_.strategy;
  layout_ = RankLayout{static_cast<int>(s.dp), static_cast<int>(s.pp), static_cast<int>(s.tp)};
  at_ = layout_.coords(rank);
  env_.d = make_dims(cfg_.model, s);
  env_.tp = comms_.tp.get();
  env_.dp = comms_.dp.get();
  env_.mem = mem_;
  env_.tp_idx = at_.tp;
  env_.split_weight_grads = splits_weight_grads(s.schedule);
  stages_ = static_cast<int>(s.pp * s.vp);
  micro_batches_ = static_cast<int>(s.micro_batches());
  order_ = pipeline_order(s.schedule, static_cast<int>(s.pp), static_cast<int>(s.vp), at_.pp,
                          micro_batches_);
  const ShardCoords sh{at_.tp, static_cast<int>(s.tp), at_.dp, static_cast<int>(s.dp), zero_within_step(s)};
  for (int c = 0; c < s.vp; ++c) {
    Chunk chunk;
    chunk.vstage = c * static_cast<int>(s.pp) + at_.pp;
    int64_t first = 0, last = 0;
    stage_layers(cfg_.layer_bounds, cfg_.model.layers, stages_, chunk.vstage, first, last);
    for (int64_t l = first; l < last; ++l)
      chunk.blocks.emplace_back(block_param_specs(cfg_.model, l), sh, mem, cfg_.seed);
    chunks_.push_back(std::move(chunk));
  }
  const bool first_stage = chunks_.front().vstage == 0;
  const bool last_stage = chunks_.back().vstage == stages_ - 1;
  if (first_stage)
    embed_ = std::make_unique<Unit<T>>(embedding_param_specs(cfg_.model), sh, mem, cfg_.seed);
  if (last_stage) {
    final_norm_ = std::make_unique<Unit<T>>(final_norm_param_specs(cfg_.model), sh, mem, cfg_.seed);
    const bool tied = cfg_.model.tied_embeddings;
    if (!tied || !first_stage)  // a tied copy on another stage: counted once, by the original
      head_ = std::make_unique<Unit<T>>(head_param_specs(cfg_.model), sh, mem, cfg_.seed, !tied);
  }
}

template <class T>
std::vector<Unit<T>*> RankTrainer<T>::units() {
  std::vector<Unit<T>*> u;
  if (embed_) u.push_back(embed_.get());
  for (auto& c : chunks_)
    for (auto& b : c.blocks) u.push_back(&b);
  if (final_norm_) u.push_back(final_norm_.get());
  if (head_) u.push_back(head_.get());
  return u;
}

template <class T>
int RankTrainer<T>::rank_of_stage(int vstage) const {
  return layout_.rank_of({at_.dp, vstage % layout_.pp, at_.tp});
}

// Boundary b sits between virtual stages b and b+1; dir 0 carries activations, 1 gradients.
template <class T>
int64_t RankTrainer<T>::tag(int mb, int boundary, int dir) const {
  return (static_cast<int64_t>(mb) * stages_ + boundary) * 2 + dir;
}

template <class T>
void RankTrainer<T>::load_micro_batch(int64_t step, int mb, MicroState& st) const {
  const Dims& d = env_.d;
  st.tokens.resize(d.tokens);
  st.targets.resize(d.tokens);
  std::vector<int32_t> seq(d.seq + 1);
  for (int64_t j = 0; j < d.micro_batch; ++j) {
    const int64_t in_batch = (static_cast<int64_t>(at_.dp) * micro_batches_ + mb) * d.micro_batch + j;
    cfg_.data.sequence(step * cfg_.strategy.global_batch + in_batch, d.seq, d.vocab, seq.data());
    std::copy(seq.begin(), seq.end() - 1, st.tokens.begin() + j * d.seq);
    std::copy(seq.begin() + 1, seq.end(), st.targets.begin() + j * d.seq);
  }
}

template <class T>
void RankTrainer<T>::forward(int64_t step, int mb, int c) {
  Chunk& chunk = chunks_[c];
  MicroState& st = in_flight_[{mb, c}];
  st.blocks.resize(chunk.blocks.size());
  const int v = chunk.vstage;
  const int64_t n = env_.d.tokens_local * env_.d.hidden;
  if (v == 0 || v == stages_ - 1) load_micro_batch(step, mb, st);
  Buffer<T> x;
  if (v == 0) {
    x = embed_forward(env_, *embed_, st.tokens.data());
  } else {
    x = Buffer<T>(*mem_, MemCategory::activations, n);
    comms_.world->recv(x.data(), n, rank_of_stage(v - 1), tag(mb, v - 1, 0));
  }
  // ZeRO-3 prefetch, as FSDP does: the next block is gathered before this one runs, so two
  // blocks are unsharded at a time (acquire/release do nothing below ZeRO-3).
  const size_t nb = chunk.blocks.size();
  for (size_t i = 0; i < nb; ++i) {
    if (i + 1 < nb) chunk.blocks[i + 1].acquire(*comms_.dp);
    const bool sends = i + 1 == nb && v != stages_ - 1;  // y only goes to the next stage
    x = block_forward(env_, chunk.blocks[i], std::move(x), st.blocks[i],
                      sends ? MemCategory::temporaries : MemCategory::activations);
    if (i > 0) chunk.blocks[i].release();
  }
  if (v == stages_ - 1) {
    const double scale = 1.0 / double(cfg_.strategy.global_batch * env_.d.seq);
    loss_sum_ += head_forward(env_, *final_norm_, head_table(), std::move(x), st.targets.data(),
                              scale, st.head);
  } else {
    comms_.world->send(x.data(), n, rank_of_stage(v + 1), tag(mb, v, 0));
  }
}

template <class T>
void RankTrainer<T>::backward(int mb, int c) {
  Chunk& chunk = chunks_[c];
  MicroState& st = in_flight_.at({mb, c});
  const int v = chunk.vstage;
  const int64_t n = env_.d.tokens_local * env_.d.hidden;
  Buffer<T> dy;
  if (v == stages_ - 1) {
    dy = head_backward(env_, *final_norm_, head_table(), st.head);
  } else {
    dy = Buffer<T>(*mem_, MemCategory::temporaries, n);
    comms_.world->recv(dy.data(), n, rank_of_stage(v + 1), tag(mb, v, 1));
  }
  const size_t nb = chunk.blocks.size();
  for (size_t i = nb; i-- > 0;) {  // ZeRO-3 prefetch of the previous block, as in forward
    if (i > 0) chunk.blocks[i - 1].acquire(*comms_.dp);
    dy = block_backward(env_, chunk.blocks[i], st.blocks[i], std::move(dy));
    if (i + 1 < nb) chunk.blocks[i].release();
  }
  if (v == 0) embed_backward(env_, *embed_, st.tokens.data(), dy);
  else comms_.world->send(dy.data(), n, rank_of_stage(v - 1), tag(mb, v - 1, 1));
  if (!env_.split_weight_grads) in_flight_.erase({mb, c});
}

template <class T>
void RankTrainer<T>::weight(int mb, int c) {
  Chunk& chunk = chunks_[c];
  MicroState& st = in_flight_.at({mb, c});
  if (chunk.vstage == stages_ - 1) head_weight_grads(env_, head_table(), st.head);
  for (size_t i = chunk.blocks.size(); i-- > 0;)
    block_weight_grads(env_, chunk.blocks[i], st.blocks[i]);
  in_flight_.erase({mb, c});
}

template <class T>
void RankTrainer<T>::optimizer_step() {
  std::vector<Unit<T>*> all = units();
  for (Unit<T>* u : all) u->reduce_grads(*comms_.dp);
  if (comms_.emb) (embed_ ? embed_ : head_)->all_reduce_grads(*comms_.emb);
  if (env_.d.sp)
    for (Unit<T>* u : all) u->all_reduce_replicated_grads(*comms_.tp);
  // One world all-reduce carries the squared gradient norm and the loss (each counted once).
  double vals[2] = {0, 0};
  for (Unit<T>* u : all) vals[0] += u->grad_sumsq();
  if (at_.tp == 0 && final_norm_) vals[1] = loss_sum_;
  comms_.world->all_reduce(vals, 2);
  loss_sum_ = vals[1];
  const double norm = grad_norm_ = std::sqrt(vals[0]);
  const double max_norm = cfg_.adamw.max_grad_norm;
  // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
  const double clip = (max_norm > 0 && norm + 1e-6 > max_norm) ? max_norm / (norm + 1e-6) : 1.0;
  ++steps_done_;
  for (Unit<T>* u : all) {
    u->adamw(cfg_.adamw, steps_done_, clip);
    u->finish_step(*comms_.dp);
  }
}

template <class T>
double RankTrainer<T>::train_step(int64_t step) {
  loss_sum_ = 0;
  for (const PipelinePass& p : order_) {
    if (p.kind == PassKind::forward) forward(step, p.micro_batch, p.chunk);
    if (p.kind == PassKind::backward) backward(p.micro_batch, p.chunk);
    if (p.kind == PassKind::weight) weight(p.micro_batch, p.chunk);
  }
  optimizer_step();
  return loss_sum_ / double(cfg_.strategy.global_batch * env_.d.seq);
}

template <class T>
void RankTrainer<T>::export_params(ParamStore<T>& out) {
  for (Unit<T>* u : units()) u->export_params(*comms_.dp, out);
}

template class RankTrainer<float>;
template class RankTrainer<double>;

}  // namespace shardplan::executor
