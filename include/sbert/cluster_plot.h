// A self-contained HTML page (no network access) showing a 2-D projection coloured by cluster:
// an inline SVG with one circle per row (its text in a <title>, shown on hover, plus a styled
// tooltip from a few lines of inline JS) and a legend with each cluster's size.
#pragma once
#include <string>
#include <vector>

#include "sbert/matrix.h"

namespace sbert {

struct PlotOptions {
  std::string title = "sbert cluster";
  int width = 960;   // SVG drawing size in CSS pixels
  int height = 720;
};

// `xy` has one row (x, y) per point; `labels` (-1 = unassigned, drawn grey) and `texts` (may be
// empty: points are then named "row N") have one entry per row. Throws sbert::Error on
// mismatched sizes or non-finite coordinates.
std::string cluster_plot_html(const Matrix& xy, const std::vector<int>& labels,
                              const std::vector<std::string>& texts, const PlotOptions& options = {});

}  // namespace sbert
