#include "sbert/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "sbert/error.h"

namespace sbert {
namespace {

void check_pair(const std::vector<double>& x, const std::vector<double>& y, const char* what) {
  if (x.size() != y.size())
    throw Error(std::string(what) + ": the two series differ in length (" +
                std::to_string(x.size()) + " vs " + std::to_string(y.size()) + ")");
  if (x.size() < 2) throw Error(std::string(what) + ": needs at least 2 values");
}

}  // namespace

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  check_pair(x, y, "pearson");
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t start = 0; start < order.size();) {
    size_t end = start + 1;
    while (end < order.size() && values[order[end]] == values[order[start]]) ++end;
    // Positions start..end-1 (0-based) are ranks start+1..end; their mean is (start+1+end)/2.
    const double rank = (static_cast<double>(start + 1) + static_cast<double>(end)) / 2.0;
    for (size_t k = start; k < end; ++k) ranks[order[k]] = rank;
    start = end;
  }
  return ranks;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  check_pair(x, y, "spearman");
  return pearson(average_ranks(x), average_ranks(y));
}

Summary summarize(const std::vector<double>& values) {
  Summary s;
  s.count = values.size();
  if (values.empty()) return s;
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.count);
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(ss / static_cast<double>(s.count));
  return s;
}

Histogram histogram(const std::vector<double>& values, size_t bins) {
  Histogram h;
  bins = std::max<size_t>(bins, 1);
  h.counts.assign(bins, 0);
  bool any = false;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (!any) {
      h.low = h.high = v;
      any = true;
    }
    h.low = std::min(h.low, v);
    h.high = std::max(h.high, v);
  }
  if (!any) {
    h.low = 0;
    h.high = 1;
    return h;
  }
  if (h.high == h.low) {
    h.low -= 0.5;
    h.high += 0.5;
  }
  const double width = (h.high - h.low) / static_cast<double>(bins);
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    size_t b = static_cast<size_t>((v - h.low) / width);
    if (b >= bins) b = bins - 1;
    ++h.counts[b];
  }
  return h;
}

}  // namespace sbert
