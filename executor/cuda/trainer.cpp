// CudaRankTrainer: pipeline passes with point-to-point activations, and the optimizer step
// (the CPU RankTrainer's order of operations, on the GPU).
#include "executor/cuda/trainer.hpp"

#include <algorithm>
#include <cmath>

namespace shardplan::executor::cuda {

CudaRankTrainer::CudaRankTrainer(const TrainConfig& cfg, int rank, CudaRankComms comms,
                                 MemoryTracker& mem, Stream stream, Blas& blas)
    : cfg_(cfg), rank_(rank), comms_(std::move(comms)), mem_(&mem) {
  const Strategy& s = cfg_.strategy;
  layout_ = RankLayout{static_cast<int>(s.dp), static_cast<int>(s.pp), static_cast<int>(s.tp)};
  at_ = layout_.coords(rank);
  env_.d = make_dims(cfg_.model, s);
  env_.tp = comms_.tp.get();
  env_.dp = comms_.dp.get();
  env_.mem = mem_;
  env_.blas = &blas;
  env_.stream = stream;
  env_.tp_idx = at_.tp;
  env_.split_weight_grads = splits_weight_grads(s.schedule);
  env_.flash = s.flash_attention;
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
      chunk.blocks.emplace_back(block_param_specs(cfg_.model, l), sh, env_, cfg_.seed);
    chunks_.push_back(std::move(chunk));
  }
  const bool first_stage = chunks_.front().vstage == 0;
  const bool last_stage = chunks_.back().vstage == stages_ - 1;
  if (first_stage)
    embed_ = std::make_unique<DUnit>(embedding_param_specs(cfg_.model), sh, env_, cfg_.seed);
  if (last_stage) {
    final_norm_ = std::make_unique<DUnit>(final_norm_param_specs(cfg_.model), sh, env_, cfg_.seed);
    const bool tied = cfg_.model.tied_embeddings;
    if (!tied || !first_stage)
      head_ = std::make_unique<DUnit>(head_param_specs(cfg_.model), sh, env_, cfg_.seed, !tied);
  }
  loss_ = env_.buf<double>(MemCategory::temporaries, 1, true);
}

int CudaRankTrainer::rank_of_stage(int vstage) const {
  return layout_.rank_of({at_.dp, vstage % layout_.pp, at_.tp});
}

int64_t CudaRankTrainer::tag(int mb, int boundary, int dir) const {
  return (static_cast<int64_t>(mb) * stages_ + boundary) * 2 + dir;
}

void CudaRankTrainer::load_micro_batch(int64_t step, int mb, MicroState& st) const {
  const Dims& d = env_.d;
  st.tokens.resize(d.tokens);
  st.targets.resize(d.tokens);
  std::vector<int32_t> seq(d.seq + 1);
  for (int64_t j = 0; j < d.micro_batch; ++j) {
    const int64_t in_batch =
        (static_cast<int64_t>(at_.dp) * micro_batches_ + mb) * d.micro_batch + j;
    cfg_.data.sequence(step * cfg_.strategy.global_batch + in_batch, d.seq, d.vocab, seq.data());
    std::copy(seq.begin(), seq.end() - 1, st.tokens.begin() + j * d.seq);
    std::copy(seq.begin() + 1, seq.end(), st.targets.begin() + j * d.seq);
  }
  st.d_tokens = env_.buf<int32_t>(MemCategory::temporaries, d.tokens);
  st.d_tokens.upload(st.tokens);
  st.d_targets = env_.buf<int32_t>(MemCategory::temporaries, d.tokens);
  st.d_targets.upload(st.targets);
}

void CudaRankTrainer::forward(int64_t step, int mb, int c) {
  Chunk& chunk = chunks_[c];
  MicroState& st = in_flight_[{mb, c}];
  st.blocks.resize(chunk.blocks.size());
  const int v = chunk.vstage;
  const int64_t n = env_.d.tokens_local * env_.d.hidden;
  if (v == 0 || v == stages_ - 1) load_micro_batch(step, mb, st);
  DevBuf<bf16> x;
  if (v == 0) {
    x = embed_forward(env_, *embed_, st.d_tokens.data());
  } else {
    x = env_.buf<bf16>(MemCategory::activations, n);
    comms_.world->recv(x.data(), n, rank_of_stage(v - 1), tag(mb, v - 1, 0));
  }
  for (size_t i = 0; i < chunk.blocks.size(); ++i)
    x = block_forward(env_, chunk.blocks[i], std::move(x), st.blocks[i]);
  if (v == stages_ - 1) {
    const double scale = 1.0 / double(cfg_.strategy.global_batch * env_.d.seq);
    head_forward(env_, *final_norm_, head_table(), std::move(x), st.d_targets.data(), scale,
                 st.head, loss_.data());
  } else {
    comms_.world->send(x.data(), n, rank_of_stage(v + 1), tag(mb, v, 0));
  }
}

void CudaRankTrainer::backward(int mb, int c) {
  Chunk& chunk = chunks_[c];
  MicroState& st = in_flight_.at({mb, c});
  const int v = chunk.vstage;
  const int64_t n = env_.d.tokens_local * env_.d.hidden;
  DevBuf<float> dy;
  if (v == stages_ - 1) {
    dy = head_backward(env_, *final_norm_, head_table(), st.head);
  } else {
    dy = env_.buf<float>(MemCategory::temporaries, n);
    comms_.world->recv(dy.data(), n, rank_of_stage(v + 1), tag(mb, v, 1));
  }
  for (size_t i = chunk.blocks.size(); i-- > 0;)
    dy = block_backward(env_, chunk.blocks[i], st.blocks[i], std::move(dy));
  if (v == 0)
    embed_backward(env_, *embed_, st.tokens, dy);
  else
    comms_.world->send(dy.data(), n, rank_of_stage(v - 1), tag(mb, v - 1, 1));
  if (!env_.split_weight_grads) in_flight_.erase({mb, c});
}

void CudaRankTrainer::weight(int mb, int c) {
  Chunk& chunk = chunks_[c];
  MicroState& st = in_flight_.at({mb, c});
  for (size_t i = chunk.blocks.size(); i-- > 0;)
    block_weight_grads(env_, chunk.blocks[i], st.blocks[i]);
  in_flight_.erase({mb, c});
}

void CudaRankTrainer::optimizer_step() {
  std::vector<DUnit*> all;
  if (embed_) all.push_back(embed_.get());
  for (auto& c : chunks_)
    for (auto& b : c.blocks) all.push_back(&b);
  if (final_norm_) all.push_back(final_norm_.get());
  if (head_) all.push_back(head_.get());

  for (DUnit* u : all) u->reduce_grads(*comms_.dp);
  if (comms_.emb) (embed_ ? embed_ : head_)->all_reduce_grads(*comms_.emb);
  // One world all-reduce carries the squared gradient norm and the loss (each counted once).
  DevBuf<double> vals = env_.buf<double>(MemCategory::temporaries, 2, true);
  for (DUnit* u : all) u->grad_sumsq(vals.data());
  if (at_.tp == 0 && final_norm_)
    copy_device(vals.data() + 1, loss_.data(), sizeof(double), env_.stream);
  comms_.world->all_reduce(vals.data(), 2);
  const std::vector<double> host = vals.download();  // the step's one synchronisation
  loss_sum_ = host[1];
  const double norm = grad_norm_ = std::sqrt(host[0]);
  const double max_norm = cfg_.adamw.max_grad_norm;
  // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
  const double clip = (max_norm > 0 && norm + 1e-6 > max_norm) ? max_norm / (norm + 1e-6) : 1.0;
  ++steps_done_;
  for (DUnit* u : all) {
    u->adamw(cfg_.adamw, steps_done_, clip);
    u->finish_step(*comms_.dp);
  }
}

double CudaRankTrainer::train_step(int64_t step) {
  loss_.zero();
  for (const PipelinePass& p : order_) {
    if (p.kind == PassKind::forward) forward(step, p.micro_batch, p.chunk);
    if (p.kind == PassKind::backward) backward(p.micro_batch, p.chunk);
    if (p.kind == PassKind::weight) weight(p.micro_batch, p.chunk);
  }
  optimizer_step();
  return loss_sum_ / double(cfg_.strategy.global_batch * env_.d.seq);
}

void CudaRankTrainer::export_params(ParamStore<float>& out) {
  if (embed_) embed_->export_params(*comms_.dp, out);
  for (auto& c : chunks_)
    for (auto& b : c.blocks) b.export_params(*comms_.dp, out);
  if (final_norm_) final_norm_->export_params(*comms_.dp, out);
  if (head_) head_->export_params(*comms_.dp, out);
}

std::vector<P2PLink> pipeline_links(const Strategy& s) {
  const RankLayout layout{static_cast<int>(s.dp), static_cast<int>(s.pp), static_cast<int>(s.tp)};
  const int stages = static_cast<int>(s.pp * s.vp);
  std::vector<P2PLink> links;
  auto add = [&](P2PLink l) {
    if (l.src != l.dst && std::find(links.begin(), links.end(), l) == links.end())
      links.push_back(l);
  };
  for (int dp = 0; dp < s.dp; ++dp)
    for (int tp = 0; tp < s.tp; ++tp)
      for (int v = 0; v + 1 < stages; ++v) {
        const int a = layout.rank_of({dp, v % layout.pp, tp});
        const int b = layout.rank_of({dp, (v + 1) % layout.pp, tp});
        add({a, b, 0});
        add({b, a, 1});
      }
  return links;
}

}  // namespace shardplan::executor::cuda
