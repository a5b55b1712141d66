// SimEngine: the discrete-event core of the simulator. Tasks run on in-order streams, wait for
// their dependencies, and end by duration (compute, collectives) or by moving bytes over a shared
// link whose bandwidth concurrent transfers split fairly. Knows nothing about pipelines.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace shardplan {

using TaskId = int32_t;
using StreamId = int32_t;
using LinkId = int32_t;

struct EngineRun {
  bool ok = true;          // false: a task never became ready (a cycle), or too big a run:
                           // 2^30 tasks or links or more, or 2^32 events or more
  int64_t events = 0;      // events processed (stale link reschedules not counted)
  TaskId stuck_task = -1;  // !ok: the lowest-numbered task that never ran
};

// The invariant kept: a stream runs its tasks one at a time in the order they were added; a task
// starts at the first instant when all its dependencies have ended and it is at the head of every
// stream it occupies. Events at equal times are ordered by a sequence key (the order in which they
// were scheduled), so a run is a pure function of the order of add_* calls.
class SimEngine {
 public:
  StreamId add_stream();
  // A link of `capacity_Bps`; each flow on it is also held to `per_flow_cap_Bps` (0: no cap), the
  // endpoint's own bandwidth. With n flows each moves at min(cap, capacity / n): since all flows of
  // a link have the same cap this is the max-min fair share.
  LinkId add_link(double capacity_Bps, double per_flow_cap_Bps = 0);

  // A task occupying one stream for `duration_s`.
  TaskId add_task(StreamId stream, double duration_s);
  // A collective: occupies every stream in `streams` (distinct) from the instant
  // all are free (and its dependencies done) for `duration_s`.
  TaskId add_collective(std::span<const StreamId> streams, double duration_s);
  // A point-to-point transfer: occupies `send` and `recv` together; takes latency_s, then moves
  // `bytes` over `link` at its fair share (recomputed whenever a flow on the link starts or ends).
  TaskId add_transfer(StreamId send, StreamId recv, LinkId link, double bytes, double latency_s);
  // The same on any set of streams (distinct): e.g. one rank's share of a collective, which waits
  // for latency_s (latency terms, in-node traffic) and then moves its bytes over its NIC `link`.
  TaskId add_flow(std::span<const StreamId> streams, LinkId link, double bytes, double latency_s);
  // `after` may start only once `before` has ended.
  void add_dep(TaskId before, TaskId after);

  void reserve(size_t tasks, size_t deps);
  EngineRun run();  // once; afterwards the times below are valid

  size_t task_count() const { return tasks_.size(); }
  double start_s(TaskId t) const { return tasks_[t].start_s; }
  double end_s(TaskId t) const { return tasks_[t].end_s; }
  // Tasks of a stream in issue order (valid after run()).
  std::span<const TaskId> stream_tasks(StreamId s) const;
  // Streams a task occupies.
  std::span<const StreamId> task_streams(TaskId t) const;

 private:
  enum class EventKind : uint8_t { task_end, flow_join, link_done };
  static constexpr size_t kMaxIds = size_t{1} << 30;  // ids share 32 bits with the kind
  // The loop touches tasks in a scattered order; what it checks most (is this task ready?) is
  // one counter per task in pending_, so the record itself is read only when a task starts.
  struct Task {
    double duration_s = 0;  // timed: duration; transfer: latency
    double start_s = -1, end_s = -1;
    int32_t stream_count = 0;
    int32_t stream_begin = 0;  // into task_stream_ids_
    LinkId link = -1;          // >= 0: a transfer over this link, of bytes_[task] bytes
  };
  // 16 bytes. seq is the tie-break key (scheduling order); a run schedules fewer than 2^32
  // events (run() reports !ok otherwise). `what` packs the task or link id with the kind.
  struct Event {
    double t_s;
    uint32_t seq;
    uint32_t what;  // id << 2 | kind
  };
  struct Flow {
    double finish_served;  // the link's per-flow served bytes at which this flow is done
    TaskId task;
  };
  struct Link {
    double capacity_Bps = 0, per_flow_cap_Bps = 0;
    double served = 0;  // bytes moved per active flow since the link was last idle
    double last_s = 0;
    double rate_Bps = 0;
    uint32_t event_seq = 0;   // seq of its live link_done event; older ones are stale
    std::vector<Flow> flows;  // min-heap on (finish_served, task)
  };

  TaskId new_task(double duration_s, double bytes, LinkId link, size_t streams);
  uint32_t push_event(double t_s, EventKind kind, int32_t id);
  Event pop_event();
  void release(TaskId t) {
    if (--pending_[t] == 0) start(t);
  }
  void start(TaskId t);
  void join_link(TaskId t);
  void link_done(LinkId l);
  static bool flow_later(const Flow& a, const Flow& b);
  void reschedule(LinkId l);
  void finish(TaskId t);

  std::vector<Task> tasks_;
  std::vector<double> bytes_;  // per task; read only when a transfer starts
  std::vector<StreamId> task_stream_ids_;
  std::vector<Link> links_;
  int32_t stream_count_ = 0;
  std::vector<std::pair<TaskId, TaskId>> dep_edges_;
  // Built by run(): CSR of successors and of stream members.
  // pending_[t]: dependencies not yet ended + streams where t is not yet at the head; t starts
  // when it reaches 0.
  std::vector<int32_t> pending_;
  std::vector<int32_t> succ_begin_, stream_begin_, stream_head_;
  std::vector<TaskId> succ_, stream_members_;
  std::vector<Event> heap_;
  std::vector<TaskId> scratch_;
  double now_s_ = 0;
  uint32_t seq_ = 0;
  bool seq_overflow_ = false;
  int64_t finished_ = 0;
};

}  // namespace shardplan
