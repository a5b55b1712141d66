// Small SVG building blocks for the report (internal to plan/): escaping, linear scales, "nice"
// axis ticks, axes with grid lines, a categorical palette and a legend.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace shardplan::svg {

std::string esc(const std::string& s);  // & < > " escaped for HTML text and attributes
std::string num(double v);              // coordinates: at most 2 decimals, no trailing zeros

// Maps the domain [d0, d1] onto the pixel range [r0, r1] (r1 < r0 for a y axis), linearly or,
// with `log`, logarithmically (d0 > 0).
struct Scale {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  bool log = false;
  double operator()(double v) const;
};

// Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi], about `count`.
std::vector<double> nice_ticks(double lo, double hi, int count);
// For a log axis: 1, 2 and 5 times each power of ten in [lo, hi] (fewer when it spans decades).
std::vector<double> log_ticks(double lo, double hi);
// The upper end of the axis: the last nice tick at or above `hi`.
double nice_max(double hi, int count);

// Axis lines, ticks, grid and labels of a plot whose area is x.r0..x.r1 by y.r1..y.r0 (no
// ticks along an axis whose domain is empty).
std::string axes(const Scale& x, const Scale& y, const std::string& x_label,
                 const std::string& y_label, int ticks);

// Ten distinguishable colours (Tableau 10), and the i-th (wrapping).
const char* colour(size_t i);

// Rows of coloured squares with labels, starting at (x, y); an entry that would end past `max_x`
// starts the next row, 14 px lower.
std::string legend(double x, double y,
                   const std::vector<std::pair<std::string, std::string>>& colour_label, double max_x);

}  // namespace shardplan::svg
