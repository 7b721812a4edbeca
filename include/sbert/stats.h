// Correlation statistics for evaluating similarity scores against gold ratings (STS-style).
#pragma once
#include <cstddef>
#include <vector>

namespace sbert {

// Pearson's r. Throws sbert::Error when the sizes differ or there are fewer than 2 values;
// returns NaN when either side has zero variance (r is undefined there).
double pearson(const std::vector<double>& x, const std::vector<double>& y);

// 1-based ranks; tied values all get the average of the ranks they span.
std::vector<double> average_ranks(const std::vector<double>& values);

// Spearman's rho = Pearson's r of the average ranks (the tie-aware definition scipy uses).
double spearman(const std::vector<double>& x, const std::vector<double>& y);

struct Summary {
  size_t count = 0;
  double mean = 0, stddev = 0, min = 0, max = 0;  // stddev: population (divide by n)
};
Summary summarize(const std::vector<double>& values);

struct Histogram {
  double low = 0, high = 0;    // range covered; bin b is [low + b*width, low + (b+1)*width)
  std::vector<size_t> counts;  // the last bin also holds values equal to `high`
};
// `bins` equal-width bins over [min, max] of the values (a single value gets a unit-wide range).
Histogram histogram(const std::vector<double>& values, size_t bins);

}  // namespace sbert
