// Comparing a matrix of results with a golden's values, for the model tests of every component.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "sbert/matrix.h"

namespace sbert::testing {

// Largest |m - want|; `want` is [rows][cols] or flat, and must have m's size (checked).
inline double max_abs_diff(const Matrix& m, const nlohmann::json& want) {
  const bool nested = want[0].is_array();
  EXPECT_EQ(m.rows * m.cols, nested ? want.size() * want[0].size() : want.size());
  double worst = 0;
  for (size_t i = 0; i < m.rows; ++i)
    for (size_t j = 0; j < m.cols; ++j) {
      const double w = nested ? want[i][j].get<double>() : want[i * m.cols + j].get<double>();
      worst = std::max(worst, std::fabs(double(m.at(i, j)) - w));
    }
  return worst;
}

}  // namespace sbert::testing
