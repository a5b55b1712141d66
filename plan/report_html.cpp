// The report page: summary, Pareto chart, ranked table, memory bars, timeline. Inline CSS, no
// script and no external resource, so the file opens anywhere, offline, as it was written.
#include <fmt/format.h>

#include "plan/report_parts.hpp"
#include "plan/report_svg.hpp"

namespace shardplan {

namespace {
using report::kGiB;
using svg::esc;

constexpr const char* kStyle =
    R"(body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;
margin:24px auto;max-width:1160px;padding:0 16px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;margin:0 0 16px}.figure{overflow-x:auto}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
.card b{display:block;font-size:18px}.card span{color:#555;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:right}
th{background:#f6f6f6}td.s,th.s{text-align:left;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:anywhere}
tr.chosen td{background:#fff7d6;font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:#333}svg .label{font-size:12px;fill:#111}svg .pass{font-size:9px;fill:#fff}
svg .grid{stroke:#eee}svg .axis{stroke:#444}svg .limit{stroke:#d62728;stroke-dasharray:5 4}
svg .capacity{stroke:#d62728;stroke-width:1.5}svg .front{fill:none;stroke:#555;stroke-width:1.2}
svg .ranked{fill:#bbb;stroke:#888}svg .chosen{fill:none;stroke:#111;stroke-width:2}svg .simpeak{stroke:#111;stroke-width:2}
.note{color:#555;font-size:12px})";

std::string card(const std::string& value, const std::string& what) {
  return "<div class=\"card\"><b>" + esc(value) + "</b><span>" + esc(what) + "</span></div>";
}

std::string summary(const ReportData& d) {
  const Estimate& e = d.chosen.estimate;
  std::string o = "<p class=\"sub\">chosen plan: <code>" +
                  esc(strategy_to_string(d.chosen.strategy)) + "</code></p><div class=\"cards\">";
  o += card(fmt::format("{:.3f} s", e.step_time_s), "step time (analytic)");
  if (d.sim.step_time_s > 0)
    o += card(fmt::format("{:.3f} s", d.sim.step_time_s), "step time (simulated)");
  o += card(fmt::format("{:.0f}", e.tokens_per_s), "tokens/s");
  o += card(fmt::format("{:.1f}%", 100 * e.mfu), "MFU");
  o += card(fmt::format("{:.2f} GiB", e.peak_memory_bytes / kGiB),
            fmt::format("peak memory per GPU (stage {}) of {:.1f} GiB", e.peak_stage,
                        d.cluster.gpu.memory_bytes / kGiB));
  o += card(fmt::format("{:.1f}%", 100 * e.bubble_fraction), "pipeline bubble (analytic)");
  if (d.sim.step_time_s > 0)
    o += card(fmt::format("{:.1f}%", 100 * d.sim.idle_fraction), "compute idle, bubble and comm waits (simulated)");
  std::string rej;
  for (const auto& [reason, n] : d.rejected) rej += fmt::format(", {} {}", n, reason);
  return o + "</div><p class=\"note\">" +
         esc(fmt::format("searched {} strategies{}: {} feasible{}", d.considered,
                         d.timed_out ? " (time limit hit: the best so far)" : "", d.feasible, rej)) +
         "</p>";
}

std::string table(const ReportData& d) {
  std::string o =
      "<table><thead><tr><th>#</th><th class=\"s\">strategy</th><th>step "
      "(s)</th><th>tokens/s</th><th>MFU</th><th>memory/GPU (GiB)</th><th>bubble</th><th>exposed "
      "comm</th></tr></thead><tbody>";
  for (size_t i = 0; i < d.ranked.size(); ++i) {
    const Candidate& c = d.ranked[i];
    const Estimate& e = c.estimate;
    o += fmt::format(
        "<tr{}><td>{}</td><td "
        "class=\"s\">{}</td><td>{:.3f}</td><td>{:.0f}</td><td>{:.1f}%</td><td>{:.2f}</"
        "td><td>{:.1f}%</td><td>{:.1f}%</td></tr>",
        c.strategy == d.chosen.strategy ? " class=\"chosen\"" : "", i + 1,
        esc(strategy_to_string(c.strategy)), e.step_time_s, e.tokens_per_s, 100 * e.mfu,
        e.peak_memory_bytes / kGiB, 100 * e.bubble_fraction, 100 * e.exposed_comm_fraction);
  }
  return o + "</tbody></table>";
}

std::string chunks(const ReportData& d) {
  if (d.chunk_names.empty()) return "";
  const int64_t pp = d.chosen.strategy.pp;
  std::string o = "<p class=\"note\">blocks per stage: ";
  const size_t n = d.chunk_names.size();
  for (size_t c = 0; c < n; ++c) {
    if (n > 16 && c >= 6 && c + 6 < n) {  // long pipelines: the first and last six chunks
      if (c == 6) o += "; &hellip;";
      continue;
    }
    o += esc(fmt::format("{}stage {}{}: {}", c ? "; " : "", int64_t(c) % pp,
                         d.chosen.strategy.vp > 1 ? fmt::format(" chunk {}", int64_t(c) / pp) : "",
                         d.chunk_names[c]));
  }
  return o + "</p>";
}
}  // namespace

std::string render_report_html(const ReportData& d) {
  std::string o =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width, initial-scale=1\"><title>" +
      esc("shardplan report: " + d.title) + "</title><style>" + kStyle + "</style></head><body>\n";
  o += "<h1>" + esc(d.title) + "</h1><p class=\"sub\">" + esc(d.subtitle) + "</p>\n" + summary(d) +
       "\n";
  o += "<h2>Pareto front: step time against memory per GPU</h2><p class=\"note\">" +
       esc(fmt::format("{} feasible plans on the front, coloured by {} (the field that varies most "
                       "along it); hover a point for its strategy.",
                       d.front.size(), d.colour_by)) +
       "</p><div class=\"figure\">" + report::pareto_svg(d) + "</div>\n";
  o += "<h2>Ranked plans</h2><div class=\"figure\">" + table(d) + "</div>\n";
  o += "<h2>Memory per GPU by pipeline stage (chosen plan)</h2><div class=\"figure\">" +
       report::memory_svg(d) + "</div>" + chunks(d) + "\n";
  o += "<h2>Simulated pipeline timeline (chosen plan)</h2><p class=\"note\">" +
       esc(fmt::format(
           "one step of {} micro-batches per replica, {} schedule; each stage's compute stream, "
           "and below it its data-parallel communication. Labels are micro-batch numbers.",
           d.chosen.strategy.micro_batches(), schedule_name(d.chosen.strategy.schedule))) +
       "</p><div class=\"figure\">" + report::timeline_svg(d) + "</div>\n";
  return o + "<p class=\"note\">written by shardplan</p></body></html>\n";
}

}  // namespace shardplan
