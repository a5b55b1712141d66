// The Pareto chart and the per-stage memory bars of the report.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>

#include "plan/report_parts.hpp"
#include "plan/report_svg.hpp"

namespace shardplan::report {

namespace {
using svg::num;

std::string open_svg(double w, double h, const std::string& label) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" "
      "height=\"{1}\" role=\"img\" aria-label=\"{2}\">",
      num(w), num(h), svg::esc(label));
}

std::string point_title(const Candidate& c) {
  return svg::esc(fmt::format("{}\nstep {:.3f} s, {:.2f} GiB per GPU, MFU {:.1f}%",
                              strategy_to_string(c.strategy), c.estimate.step_time_s,
                              c.estimate.peak_memory_bytes / kGiB, 100 * c.estimate.mfu));
}

// Distinct values of `field` on the front, numbers in numeric order, names alphabetically.
std::vector<std::string> front_values(const ReportData& d) {
  std::vector<std::string> v;
  for (const auto& c : d.front) v.push_back(field_value(c.strategy, d.colour_by));
  auto key = [](const std::string& s) { return std::make_pair(std::atof(s.c_str()), s); };
  std::sort(v.begin(), v.end(),
            [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}
}  // namespace

std::string pareto_svg(const ReportData& d) {
  const double W = 760, H = 440, L = 72, R = 24, T = 44, B = 56;
  double max_mem = d.usable_bytes, max_t = 0;
  for (const auto* list : {&d.front, &d.ranked})
    for (const auto& c : *list)
      max_mem = std::max(max_mem, c.estimate.peak_memory_bytes),
      max_t = std::max(max_t, c.estimate.step_time_s);
  // The chosen plan (a plan file's may lie off the front and the ranked list) inside the axes too.
  max_mem = std::max(max_mem, d.chosen.estimate.peak_memory_bytes);
  max_t = std::max(max_t, d.chosen.estimate.step_time_s);
  double min_t = d.chosen.estimate.step_time_s;
  for (const auto& c : d.front) min_t = std::min(min_t, c.estimate.step_time_s);
  // Fronts often span 10x or more (pp=1 without memory savers vs. everything on): log time then.
  const bool log = min_t > 0 && max_t / min_t > 20;
  const svg::Scale x{0, svg::nice_max(max_mem / kGiB * 1.02, 8), L, W - R};
  const svg::Scale y =
      log ? svg::Scale{std::pow(10.0, std::floor(std::log10(min_t))),
                       std::pow(10.0, std::ceil(std::log10(max_t))), H - B, T, true}
          : svg::Scale{0, svg::nice_max(max_t * 1.05, 6), H - B, T};
  std::string o = open_svg(W, H, "Pareto front: step time against memory per GPU");
  o += svg::axes(x, y, "peak memory per GPU (GiB)",
                 log ? "step time (s, log scale)" : "step time (s)", 8);
  const std::string ux = num(x(d.usable_bytes / kGiB));
  o += fmt::format("<line class=\"limit\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>", ux,
                   num(y.r0), num(y.r1));
  o += fmt::format(
      "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">usable {:.1f} GiB</text>",
      num(x(d.usable_bytes / kGiB) - 4), num(T + 12), d.usable_bytes / kGiB);
  for (const auto& c : d.ranked)
    o += fmt::format(
        "<circle class=\"ranked\" cx=\"{}\" cy=\"{}\" r=\"3.5\"><title>{}</title></circle>",
        num(x(c.estimate.peak_memory_bytes / kGiB)), num(y(c.estimate.step_time_s)),
        point_title(c));
  if (!d.front.empty()) {
    std::string path = fmt::format("M{} {}", num(x(d.front[0].estimate.peak_memory_bytes / kGiB)),
                                   num(y(d.front[0].estimate.step_time_s)));
    for (size_t i = 1; i < d.front.size(); ++i)
      path += fmt::format(" H{} V{}", num(x(d.front[i].estimate.peak_memory_bytes / kGiB)),
                          num(y(d.front[i].estimate.step_time_s)));
    o += "<path class=\"front\" d=\"" + path + "\"/>";
  }
  const std::vector<std::string> values = front_values(d);
  // Nine values keep colours of their own; the rest share the tenth ("others"), which a repeated
  // colour would pass off as one of the nine.
  constexpr size_t kOwn = 9;
  std::vector<std::pair<std::string, std::string>> legend;
  for (size_t i = 0; i < values.size() && i < kOwn; ++i)
    legend.emplace_back(svg::colour(i), d.colour_by + " " + values[i]);
  if (values.size() > kOwn) legend.emplace_back(svg::colour(kOwn), d.colour_by + " others");
  for (const auto& c : d.front) {
    const size_t i = std::min(kOwn, static_cast<size_t>(std::find(values.begin(), values.end(),
                                                                  field_value(c.strategy, d.colour_by)) -
                                                        values.begin()));
    o += fmt::format(
        "<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{}\" stroke=\"#222\" "
        "stroke-width=\"0.6\"><title>{}</title></circle>",
        num(x(c.estimate.peak_memory_bytes / kGiB)), num(y(c.estimate.step_time_s)), svg::colour(i),
        point_title(c));
  }
  o += fmt::format(
      "<circle class=\"chosen\" cx=\"{}\" cy=\"{}\" r=\"9\"><title>chosen: {}</title></circle>",
      num(x(d.chosen.estimate.peak_memory_bytes / kGiB)), num(y(d.chosen.estimate.step_time_s)),
      point_title(d.chosen));
  o += svg::legend(L, 22, legend, W - R - 190);
  o += fmt::format(
      "<text class=\"tick\" x=\"{}\" y=\"22\" text-anchor=\"end\">grey: ranked plans; ring: "
      "chosen</text>",
      num(W - R));
  return o + "</svg>";
}

std::string memory_svg(const ReportData& d) {
  const auto& stages = d.chosen.estimate.stages;
  const double W = 760, H = 400, L = 72, R = 24, T = 44, B = 56;
  double top = d.cluster.gpu.memory_bytes;
  for (size_t i = 0; i < stages.size(); ++i) {
    top = std::max(top, stages[i].total_bytes);
    if (i < d.sim.peak_memory_bytes.size()) top = std::max(top, d.sim.peak_memory_bytes[i]);
  }
  const svg::Scale x{0, double(std::max<size_t>(1, stages.size())), L, W - R};
  const svg::Scale y{0, svg::nice_max(top / kGiB * 1.02, 6), H - B, T};
  std::string o = open_svg(W, H, "Memory per GPU by pipeline stage");
  // Stage numbers label the bars; the x axis itself has no numeric ticks (empty domain).
  o += svg::axes(svg::Scale{0, 0, L, W - R}, y, "pipeline stage", "memory per GPU (GiB)", 6);
  // Every term of StageMemory::total_bytes, so each bar's height is the stage's total.
  static const char* kinds[] = {"weights", "gradients", "optimizer", "activations",
                                "working", "buffers",   "runtime"};
  constexpr size_t kKinds = std::size(kinds);
  const double slot = (x.r1 - x.r0) / double(std::max<size_t>(1, stages.size())),
               bw = std::clamp(slot * 0.7, 1.0, 90.0);
  const size_t label_every = std::max<size_t>(1, stages.size() / 16);
  for (size_t i = 0; i < stages.size(); ++i) {
    const StageMemory& m = stages[i];
    const double parts[kKinds] = {m.params_bytes,      m.grads_bytes,   m.optimizer_bytes,
                                  m.activations_bytes, m.working_bytes, m.buffers_bytes,
                                  m.runtime_bytes};
    const double x0 = x.r0 + slot * double(i) + (slot - bw) / 2;
    double base = 0;
    for (size_t k = 0; k < kKinds; ++k) {
      if (parts[k] <= 0) continue;
      o += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>stage {}: {} "
          "{:.2f} GiB</title></rect>",
          num(x0), num(y((base + parts[k]) / kGiB)), num(bw),
          num(y(base / kGiB) - y((base + parts[k]) / kGiB)), svg::colour(k), i, kinds[k],
          parts[k] / kGiB);
      base += parts[k];
    }
    if (i < d.sim.peak_memory_bytes.size())
      o += fmt::format(
          "<line class=\"simpeak\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"><title>stage {3}: "
          "simulated peak {4:.2f} GiB</title></line>",
          num(x0 - 2), num(x0 + bw + 2), num(y(d.sim.peak_memory_bytes[i] / kGiB)), i,
          d.sim.peak_memory_bytes[i] / kGiB);
    if (i % label_every == 0)
      o += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                       num(x0 + bw / 2), num(y.r0 + 16), i);
  }
  const std::string gy = num(y(d.cluster.gpu.memory_bytes / kGiB)),
                    uy = num(y(d.usable_bytes / kGiB));
  o += fmt::format("<line class=\"capacity\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>",
                   num(x.r0), num(x.r1), gy);
  o += fmt::format("<line class=\"limit\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>", num(x.r0),
                   num(x.r1), uy);
  o += fmt::format(
      "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">GPU memory {:.1f} GiB</text>",
      num(x.r1), num(y(d.cluster.gpu.memory_bytes / kGiB) - 4), d.cluster.gpu.memory_bytes / kGiB);
  std::vector<std::pair<std::string, std::string>> legend;
  for (size_t k = 0; k < kKinds; ++k) legend.emplace_back(svg::colour(k), kinds[k]);
  legend.emplace_back("#111", "sim. peak");  // short: eight entries fit 760 px
  o += svg::legend(L, 22, legend, W - R);
  return o + "</svg>";
}

}  // namespace shardplan::report
