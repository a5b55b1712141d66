// The simulated step as a Gantt chart. Long runs (512 micro-batches on 64 stages) would make
// a hundred thousand rectangles: passes of one kind closer than half a pixel join, and a lane
// still denser than one pass per 3 pixels is drawn in 2-pixel bins, so the file stays small.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "plan/report_parts.hpp"
#include "plan/report_svg.hpp"

namespace shardplan::report {

namespace {
using svg::num;

struct Kind {
  const char* prefix;  // start of the trace event name
  const char* label;
  const char* colour;
};
constexpr Kind kKinds[] = {{"F ", "forward", "#4e79a7"},
                           {"B ", "backward", "#59a14f"},
                           {"W ", "weight gradient", "#f28e2b"},
                           {"R ", "recompute", "#b07aa1"},
                           {"optimizer", "optimizer", "#9c755f"},
                           {"reduce", "gradient reduction", "#e15759"},
                           {"all-gather", "parameter all-gather", "#76b7b2"}};

int kind_of(const std::string& name) {
  for (int k = 0; k < static_cast<int>(std::size(kKinds)); ++k)
    if (name.rfind(kKinds[k].prefix, 0) == 0) return k;
  return -1;
}

// "F mb12 chunk1 layers ..." -> "12" (or "12.1" with virtual chunks).
std::string pass_label(const std::string& name, bool chunks) {
  const size_t mb = name.find(" mb"), ch = name.find(" chunk");
  if (mb == std::string::npos || ch == std::string::npos || ch < mb) return "";
  std::string out = name.substr(mb + 3, ch - mb - 3);
  if (chunks) out += '.', out += name.substr(ch + 6, name.find(' ', ch + 6) - ch - 6);
  return out;
}

struct Bar {
  int kind = 0;
  double start = 0, end = 0;
  std::string name;  // the pass, or for a condensed run what it holds
  int count = 1;     // passes drawn as this one rectangle
};

constexpr int kKindCount = static_cast<int>(std::size(kKinds));

// A lane too dense to draw pass by pass (bars under ~3 px on average): cut time into `bin_s`
// bins, colour each by the kind that is busy longest in it (none when idle half the bin or
// more), and draw runs of equally coloured bins as one rectangle.
std::vector<Bar> binned(const std::vector<Bar>& bars, double step_s, double bin_s) {
  const size_t n = static_cast<size_t>(std::ceil(step_s / bin_s)) + 1;
  std::vector<std::array<double, kKindCount>> busy(n, std::array<double, kKindCount>{});
  std::vector<std::array<int, kKindCount>> starts(n, std::array<int, kKindCount>{});
  for (const Bar& b : bars) {
    const auto k = static_cast<size_t>(b.kind);
    starts[std::min(n - 1, static_cast<size_t>(b.start / bin_s))][k] += b.count;
    for (size_t i = static_cast<size_t>(b.start / bin_s); i < n && double(i) * bin_s < b.end; ++i)
      busy[i][k] += std::min(b.end, double(i + 1) * bin_s) - std::max(b.start, double(i) * bin_s);
  }
  std::vector<Bar> out;
  std::array<int, kKindCount> counts{};
  auto close = [&](size_t end_bin) {
    if (out.empty() || !out.back().name.empty()) return;
    out.back().end = double(end_bin) * bin_s;
    std::string what;
    for (size_t k = 0; k < counts.size(); ++k)
      if (counts[k] > 0)
        what += fmt::format("{}{} {}", what.empty() ? "" : ", ", counts[k], kKinds[k].label);
    out.back().name = fmt::format("{:.3f}-{:.3f} s: {}", out.back().start, out.back().end, what);
    counts = {};
  };
  int current = -1;
  for (size_t i = 0; i < n; ++i) {
    double total = 0;
    size_t top = 0;
    for (size_t k = 0; k < busy[i].size(); ++k) {
      total += busy[i][k];
      if (busy[i][k] > busy[i][top]) top = k;
    }
    const int kind = total >= 0.5 * bin_s ? static_cast<int>(top) : -1;
    if (kind != current) {
      close(i);
      if (kind >= 0) out.push_back({kind, double(i) * bin_s, double(i + 1) * bin_s, "", 0});
      current = kind;
    }
    if (kind < 0) continue;
    for (size_t k = 0; k < counts.size(); ++k)
      counts[k] += starts[i][k], out.back().count += starts[i][k];
  }
  close(n);
  return out;
}
}  // namespace

std::string timeline_svg(const ReportData& d) {
  const SimResult& r = d.sim;
  const int64_t pp = static_cast<int64_t>(r.end_s.size());
  const double W = 1100, L = 72, R = 24, T = 44, B = 48;
  const double lane = std::clamp(420.0 / double(std::max<int64_t>(1, pp)), 6.0, 22.0),
               comm = std::max(3.0, lane * 0.35);
  const double row = lane + comm + 4, H = T + row * double(pp) + B;
  const svg::Scale x{0, std::max(1e-9, r.step_time_s), L, W - R};
  const double merge_s = 0.5 * r.step_time_s / (x.r1 - x.r0);
  // Per (stage, lane) the events in time order; lane 0 compute, 1 data-parallel communication.
  std::map<std::pair<int64_t, int>, std::vector<Bar>> lanes;
  for (const TraceEvent& e : r.trace) {
    if (e.gpu >= pp) continue;  // replica 0 stands for every replica
    const int lane_of = e.stream == SimStream::compute   ? 0
                        : e.stream == SimStream::dp_comm || e.stream == SimStream::dp_reduce ? 1
                                                                                              : -1;
    const int k = kind_of(e.name);
    if (lane_of < 0 || k < 0) continue;
    lanes[{e.gpu, lane_of}].push_back({k, e.start_s, e.start_s + e.duration_s, e.name, 1});
  }
  std::string o = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" "
      "height=\"{1}\" role=\"img\" aria-label=\"Simulated pipeline timeline\">",
      num(W), num(H));
  o += svg::axes(x, svg::Scale{0, 0, H - B, T - 6}, "time in the step (s)", "", 10);
  const bool chunks = d.chosen.strategy.vp > 1;
  for (auto& [key, bars] : lanes) {
    const auto [stage, lane_of] = key;
    std::sort(bars.begin(), bars.end(),
              [](const Bar& a, const Bar& b) { return a.start < b.start; });
    std::vector<Bar> merged;
    for (Bar& b : bars) {
      if (!merged.empty() && merged.back().kind == b.kind && b.start - merged.back().end < merge_s)
        merged.back().end = std::max(merged.back().end, b.end), ++merged.back().count;
      else
        merged.push_back(std::move(b));
    }
    // Too many passes for the pixels: condense into 2-pixel bins.
    const bool dense = double(merged.size()) * 3 > x.r1 - x.r0;
    if (dense) merged = binned(merged, r.step_time_s, 4 * merge_s);
    const double y0 = T + row * double(stage) + (lane_of ? lane : 0), h = lane_of ? comm : lane;
    for (const Bar& b : merged) {
      const double bx = x(b.start), bw = std::max(0.5, x(b.end) - x(b.start));
      const std::string title =
          dense || b.count == 1
              ? b.name
              : fmt::format("{} and {} more {}", b.name, b.count - 1, kKinds[b.kind].label);
      o += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>stage {}: "
          "{}</title></rect>",
          num(bx), num(y0), num(bw), num(h), kKinds[b.kind].colour, stage, svg::esc(title));
      const std::string label =
          !dense && b.count == 1 && lane_of == 0 ? pass_label(b.name, chunks) : "";
      if (!label.empty() && bw >= 7.0 * double(label.size()) + 4 && lane >= 12)
        o += fmt::format("<text class=\"pass\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                         num(bx + bw / 2), num(y0 + lane / 2 + 4), label);
    }
  }
  const size_t label_every = static_cast<size_t>(std::max<int64_t>(1, pp / 24));
  for (int64_t s = 0; s < pp; s += static_cast<int64_t>(label_every))
    o += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">stage {}</text>",
                     num(L - 6), num(T + row * double(s) + lane / 2 + 4), s);
  std::vector<std::pair<std::string, std::string>> legend;
  for (const Kind& k : kKinds) legend.emplace_back(k.colour, k.label);
  o += svg::legend(L, 22, legend, W - R);
  return o + "</svg>";
}

}  // namespace shardplan::report
