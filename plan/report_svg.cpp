// SVG helpers: escaping, number formatting, nice ticks, axes, palette, legend.
#include "plan/report_svg.hpp"

#include <fmt/format.h>

#include <cmath>

namespace shardplan::svg {

std::string esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "0";
  std::string s = fmt::format("{:.2f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

double Scale::operator()(double v) const {
  if (d1 == d0) return r0;
  if (log)
    return r0 + (std::log10(std::max(v, d0)) - std::log10(d0)) / (std::log10(d1) - std::log10(d0)) *
                    (r1 - r0);
  return r0 + (v - d0) / (d1 - d0) * (r1 - r0);
}

namespace {
double step_for(double span, int count) {
  if (!(span > 0)) return 1;
  const double raw = span / std::max(1, count);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

std::string tick_text(double v, double step) {
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  if (std::fabs(v) < step * 1e-6) v = 0;  // no "-0"
  return fmt::format("{:.{}f}", v, decimals);
}
}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int count) {
  const double step = step_for(hi - lo, count);
  std::vector<double> out;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push_back(v);
  return out;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> out;
  const bool many = hi / lo > 1e3;  // then only 1 x each decade
  for (double p = std::pow(10.0, std::floor(std::log10(lo))); p <= hi; p *= 10)
    for (double m : {1.0, 2.0, 5.0})
      if ((!many || m == 1.0) && m * p >= lo * (1 - 1e-9) && m * p <= hi * (1 + 1e-9))
        out.push_back(m * p);
  return out;
}

double nice_max(double hi, int count) {
  if (!(hi > 0)) return 1;
  const double step = step_for(hi, count);
  return std::ceil(hi / step - 1e-9) * step;
}

std::string axes(const Scale& x, const Scale& y, const std::string& x_label,
                 const std::string& y_label, int ticks) {
  std::string o;
  const double xstep = step_for(x.d1 - x.d0, ticks), ystep = step_for(y.d1 - y.d0, ticks);
  for (double v : x.d1 > x.d0 ? nice_ticks(x.d0, x.d1, ticks) : std::vector<double>{}) {
    const std::string px = num(x(v));
    o += fmt::format("<line class=\"grid\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>", px,
                     num(y.r0), num(y.r1));
    o += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", px,
                     num(y.r0 + 16), tick_text(v, xstep));
  }
  const std::vector<double> yt = y.d1 <= y.d0 ? std::vector<double>{}
                                 : y.log      ? log_ticks(y.d0, y.d1)
                                              : nice_ticks(y.d0, y.d1, ticks);
  for (double v : yt) {
    const std::string py = num(y(v));
    o += fmt::format("<line class=\"grid\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>",
                     num(x.r0), num(x.r1), py);
    o += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                     num(x.r0 - 6), num(y(v) + 4), tick_text(v, y.log ? std::min(v, 1.0) : ystep));
  }
  o += fmt::format("<line class=\"axis\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>", num(x.r0),
                   num(x.r1), num(y.r0));
  o += fmt::format("<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>", num(x.r0),
                   num(y.r0), num(y.r1));
  o += fmt::format("<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                   num((x.r0 + x.r1) / 2), num(y.r0 + 36), esc(x_label));
  o += fmt::format(
      "<text class=\"label\" transform=\"translate({},{}) rotate(-90)\" "
      "text-anchor=\"middle\">{}</text>",
      num(x.r0 - 48), num((y.r0 + y.r1) / 2), esc(y_label));
  return o;
}

const char* colour(size_t i) {
  static const char* p[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                            "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  return p[i % 10];
}

std::string legend(double x, double y,
                   const std::vector<std::pair<std::string, std::string>>& items, double max_x) {
  std::string o;
  const double x0 = x;
  for (const auto& [c, label] : items) {
    const double width = 28 + 7.0 * static_cast<double>(label.size());
    if (x > x0 && x + width - 12 > max_x) x = x0, y += 14;
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>", num(x),
                     num(y - 10), c);
    o += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\">{}</text>", num(x + 16), num(y),
                     esc(label));
    x += width;
  }
  return o;
}

}  // namespace shardplan::svg
