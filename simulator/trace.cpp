// Chrome trace JSON by plain string building (fmt), not a JSON DOM: a 1T-parameter step has a few
// hundred thousand events and this runs in well under a second.
#include "simulator/trace.hpp"

#include <fmt/format.h>

#include <iterator>
#include <set>
#include <utility>

namespace shardplan {
namespace {

void append_escaped(std::string& out, const std::string& s) {
  for (char ch : s) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
    } else {
      out += ch;
    }
  }
}

}  // namespace

std::string chrome_trace_json(const SimResult& r) {
  const int64_t pp = static_cast<int64_t>(r.end_s.size());
  std::string out;
  out.reserve(256 + r.trace.size() * 110 + r.memory.size() * 80);
  auto it = std::back_inserter(out);
  out += "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  bool first = true;
  auto sep = [&] {
    if (!first) out += ",\n";
    first = false;
  };
  // Metadata: process names for every simulated GPU, thread names for every stream in use.
  for (int64_t gpu = 0; gpu < r.gpus; ++gpu) {
    sep();
    if (r.gpus > pp)
      fmt::format_to(
          it,
          R"({{"name":"process_name","ph":"M","pid":{},"args":{{"name":"replica {} stage {}"}}}})",
          gpu, gpu / pp, gpu % pp);
    else
      fmt::format_to(it,
                     R"({{"name":"process_name","ph":"M","pid":{},"args":{{"name":"stage {}"}}}})",
                     gpu, gpu);
  }
  std::set<std::pair<int64_t, int>> used;
  for (const TraceEvent& e : r.trace) used.emplace(e.gpu, static_cast<int>(e.stream));
  for (auto [gpu, k] : used) {
    sep();
    fmt::format_to(it,
                   R"({{"name":"thread_name","ph":"M","pid":{},"tid":{},"args":{{"name":"{}"}}}})",
                   gpu, k, sim_stream_name(static_cast<SimStream>(k)));
    sep();
    fmt::format_to(
        it,
        R"({{"name":"thread_sort_index","ph":"M","pid":{},"tid":{},"args":{{"sort_index":{}}}}})",
        gpu, k, k);
  }
  for (const TraceEvent& e : r.trace) {
    sep();
    out += "{\"name\":\"";
    append_escaped(out, e.name);
    fmt::format_to(it, R"(","ph":"X","pid":{},"tid":{},"ts":{:.3f},"dur":{:.3f}}})", e.gpu,
                   static_cast<int>(e.stream), e.start_s * 1e6, e.duration_s * 1e6);
  }
  for (const MemorySample& m : r.memory) {
    sep();
    fmt::format_to(it,
                   R"({{"name":"memory","ph":"C","pid":{},"ts":{:.3f},"args":{{"bytes":{:.0f}}}}})",
                   m.gpu, m.t_s * 1e6, m.bytes);
  }
  out += "\n]}\n";
  return out;
}

}  // namespace shardplan
