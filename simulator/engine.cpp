// SimEngine: event loop, stream order, dependencies and fair-share links (see engine.hpp).
// The hot loop touches only flat vectors built before it starts; the only growth inside it is
// the event heap and a link's flow heap, both amortized.
#include "simulator/engine.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace shardplan {

StreamId SimEngine::add_stream() {
  return stream_count_++;
}

LinkId SimEngine::add_link(double capacity_Bps, double per_flow_cap_Bps) {
  Link l;
  l.capacity_Bps = capacity_Bps;
  l.per_flow_cap_Bps = per_flow_cap_Bps;
  links_.push_back(std::move(l));
  return static_cast<LinkId>(links_.size() - 1);
}

TaskId SimEngine::new_task(double duration_s, double bytes, LinkId link, size_t streams) {
  // A NaN would never finish (NaN <= NaN is false) and hang the run: a caller's bug, said so.
  if (!(std::isfinite(duration_s) && duration_s >= 0 && std::isfinite(bytes) && bytes >= 0))
    throw std::invalid_argument("simulator task with a negative or non-finite duration or size");
  Task t;
  t.duration_s = duration_s;
  t.link = link;
  t.stream_begin = static_cast<int32_t>(task_stream_ids_.size());
  t.stream_count = static_cast<int32_t>(streams);
  tasks_.push_back(t);
  bytes_.push_back(bytes);
  return static_cast<TaskId>(tasks_.size() - 1);
}

TaskId SimEngine::add_task(StreamId stream, double duration_s) {
  TaskId id = new_task(duration_s, 0, -1, 1);
  task_stream_ids_.push_back(stream);
  return id;
}

TaskId SimEngine::add_collective(std::span<const StreamId> streams, double duration_s) {
  TaskId id = new_task(duration_s, 0, -1, streams.size());
  task_stream_ids_.insert(task_stream_ids_.end(), streams.begin(), streams.end());
  return id;
}

TaskId SimEngine::add_transfer(StreamId send, StreamId recv, LinkId link, double bytes,
                               double latency_s) {
  const StreamId streams[] = {send, recv};
  return add_flow(streams, link, bytes, latency_s);
}

TaskId SimEngine::add_flow(std::span<const StreamId> streams, LinkId link, double bytes,
                           double latency_s) {
  TaskId id = new_task(latency_s, bytes, link, streams.size());
  task_stream_ids_.insert(task_stream_ids_.end(), streams.begin(), streams.end());
  return id;
}

void SimEngine::add_dep(TaskId before, TaskId after) {
  dep_edges_.emplace_back(before, after);
}

void SimEngine::reserve(size_t tasks, size_t deps) {
  tasks_.reserve(tasks);
  bytes_.reserve(tasks);
  task_stream_ids_.reserve(tasks * 2);
  dep_edges_.reserve(deps);
}

std::span<const TaskId> SimEngine::stream_tasks(StreamId s) const {
  return {stream_members_.data() + stream_begin_[s],
          static_cast<size_t>(stream_begin_[s + 1] - stream_begin_[s])};
}

std::span<const StreamId> SimEngine::task_streams(TaskId t) const {
  return {task_stream_ids_.data() + tasks_[t].stream_begin,
          static_cast<size_t>(tasks_[t].stream_count)};
}

// ---- event heap: a binary min-heap on (time, sequence key) ----

static bool earlier(const auto& a, const auto& b) {
  return a.t_s < b.t_s || (a.t_s == b.t_s && a.seq < b.seq);
}

uint32_t SimEngine::push_event(double t_s, EventKind kind, int32_t id) {
  if (seq_ == UINT32_MAX) seq_overflow_ = true;
  Event ev{t_s, seq_++, static_cast<uint32_t>(id) << 2 | static_cast<uint32_t>(kind)};
  size_t i = heap_.size();
  heap_.push_back(ev);
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!earlier(ev, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = ev;
  return ev.seq;
}

// Floyd's variant: walk the hole from the root down to a leaf along the earlier child (one
// comparison per level), then sift the last element up from there (rarely more than a step).
SimEngine::Event SimEngine::pop_event() {
  Event top = heap_.front();
  Event last = heap_.back();
  heap_.pop_back();
  const size_t n = heap_.size();
  if (n == 0) return top;
  size_t i = 0;
  for (size_t c = 1; c < n; c = 2 * i + 1) {
    if (c + 1 < n && earlier(heap_[c + 1], heap_[c])) ++c;
    heap_[i] = heap_[c];
    i = c;
  }
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!earlier(last, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = last;
  return top;
}

// ---- task life cycle ----

void SimEngine::start(TaskId t) {
  Task& task = tasks_[t];
  task.start_s = now_s_;
  if (task.link < 0 || bytes_[t] <= 0) {
    push_event(now_s_ + task.duration_s, EventKind::task_end, t);
  } else if (task.duration_s > 0) {
    push_event(now_s_ + task.duration_s, EventKind::flow_join, t);
  } else {
    join_link(t);
  }
}

void SimEngine::finish(TaskId t) {
  tasks_[t].end_s = now_s_;
  ++finished_;
  for (StreamId s : task_streams(t)) {
    int32_t next = ++stream_head_[s];
    if (next < stream_begin_[s + 1]) {
      release(stream_members_[next]);
    }
  }
  for (int32_t i = succ_begin_[t]; i < succ_begin_[t + 1]; ++i) {
    release(succ_[i]);
  }
}

// ---- links: every flow on a link moves at the same rate, so one counter (bytes served per
// flow since the link was idle) tells when each flow is done; only the earliest needs an event.

bool SimEngine::flow_later(const Flow& a, const Flow& b) {
  return a.finish_served > b.finish_served ||
         (a.finish_served == b.finish_served && a.task > b.task);
}

void SimEngine::join_link(TaskId t) {
  Link& l = links_[tasks_[t].link];
  l.served += l.rate_Bps * (now_s_ - l.last_s);
  l.last_s = now_s_;
  l.flows.push_back(Flow{l.served + bytes_[t], t});
  std::push_heap(l.flows.begin(), l.flows.end(), flow_later);
  reschedule(tasks_[t].link);
}

void SimEngine::reschedule(LinkId id) {
  Link& l = links_[id];
  if (l.flows.empty()) {
    l.rate_Bps = 0;
    l.served = 0;  // idle: restart the counter so it never grows without bound
    return;
  }
  double rate = l.capacity_Bps / static_cast<double>(l.flows.size());
  if (l.per_flow_cap_Bps > 0 && l.per_flow_cap_Bps < rate) rate = l.per_flow_cap_Bps;
  l.rate_Bps = rate;
  // A flow that joined at the very instant another finishes can leave served a rounding error
  // past that flow's mark; never schedule into the past.
  double left = std::max(0.0, l.flows.front().finish_served - l.served);
  l.event_seq = push_event(now_s_ + left / rate, EventKind::link_done, id);
}

void SimEngine::link_done(LinkId id) {
  Link& l = links_[id];
  // Snap the counter to the finishing flow's mark, so rounding never leaves a sliver of bytes.
  l.served = l.flows.front().finish_served;
  l.last_s = now_s_;
  scratch_.clear();
  while (!l.flows.empty() && l.flows.front().finish_served <= l.served) {
    scratch_.push_back(l.flows.front().task);
    std::pop_heap(l.flows.begin(), l.flows.end(), flow_later);
    l.flows.pop_back();
  }
  reschedule(id);
  // finish() only schedules events, so scratch_ is not reused underneath this loop.
  for (TaskId t : scratch_) finish(t);
}

EngineRun SimEngine::run() {
  if (tasks_.size() >= kMaxIds || links_.size() >= kMaxIds) return EngineRun{false, 0, -1};
  const int32_t n = static_cast<int32_t>(tasks_.size());
  // Successor lists (CSR, counting sort keeps the order edges were added).
  succ_begin_.assign(n + 1, 0);
  pending_.assign(n, 0);
  for (auto [b, a] : dep_edges_) {
    ++succ_begin_[b + 1];
    ++pending_[a];
  }
  for (int32_t i = 0; i < n; ++i) succ_begin_[i + 1] += succ_begin_[i];
  succ_.resize(dep_edges_.size());
  {
    std::vector<int32_t> fill(succ_begin_.begin(), succ_begin_.end() - 1);
    for (auto [b, a] : dep_edges_) succ_[fill[b]++] = a;
  }
  // Stream members in issue order (tasks were numbered in issue order).
  stream_begin_.assign(stream_count_ + 1, 0);
  for (StreamId s : task_stream_ids_) ++stream_begin_[s + 1];
  for (int32_t i = 0; i < stream_count_; ++i) stream_begin_[i + 1] += stream_begin_[i];
  stream_members_.resize(task_stream_ids_.size());
  {
    std::vector<int32_t> fill(stream_begin_.begin(), stream_begin_.end() - 1);
    for (TaskId t = 0; t < n; ++t)
      for (StreamId s : task_streams(t)) {
        stream_members_[fill[s]++] = t;
        ++pending_[t];
      }
  }
  stream_head_.assign(stream_begin_.begin(), stream_begin_.end() - 1);
  heap_.reserve(static_cast<size_t>(stream_count_) + 16);

  now_s_ = 0;
  for (StreamId s = 0; s < stream_count_; ++s)
    if (stream_begin_[s] < stream_begin_[s + 1]) release(stream_members_[stream_begin_[s]]);
  // Tasks on no stream and with no dependencies start at once.
  for (TaskId t = 0; t < n; ++t)
    if (pending_[t] == 0 && tasks_[t].start_s < 0) start(t);

  EngineRun result;
  while (!heap_.empty()) {
    Event ev = pop_event();
    const auto kind = static_cast<EventKind>(ev.what & 3u);
    const auto id = static_cast<int32_t>(ev.what >> 2);
    if (kind == EventKind::link_done && ev.seq != links_[id].event_seq) continue;  // stale
    now_s_ = ev.t_s;
    ++result.events;
    switch (kind) {
      case EventKind::task_end:
        finish(id);
        break;
      case EventKind::flow_join:
        join_link(id);
        break;
      case EventKind::link_done:
        link_done(id);
        break;
    }
  }
  if (seq_overflow_) result.ok = false;
  if (finished_ < n) {
    result.ok = false;
    for (TaskId t = 0; t < n; ++t)
      if (tasks_[t].end_s < 0) {
        result.stuck_task = t;
        break;
      }
  }
  return result;
}

}  // namespace shardplan
