#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

#include "sbert/error.h"
#include "sbert/report.h"

namespace sbert {
namespace {

EvaluationInput sample() {
  EvaluationInput in;
  in.function = "cosine";
  in.model = "models/x";
  in.input = "pairs.csv";
  in.scores = {0.9, 0.2, 0.5, 0.7, 0.1};
  in.gold = {5, 1, 3, 3, 0};
  in.texts_a = {"a <script>alert(1)</script>", "b", "c | pipe", "d", "e"};
  in.texts_b = {"A", "B", "C", "D", "E"};
  in.lines = {2, 3, 4, 5, 6};
  return in;
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(Report, JsonHoldsTheCorrelations) {
  auto in = sample();
  auto s = evaluate(in);
  auto j = nlohmann::json::parse(render_report_json(in, s));
  EXPECT_EQ(j["pairs"], 5);
  // Independent: scores ranks 5 2 3 4 1; gold ranks 5 2 3.5 3.5 1.
  // d = (0, 0, -.5, .5, 0); Pearson of ranks: sxy = 10 - ... computed directly below.
  std::vector<double> rs{5, 2, 3, 4, 1}, rg{5, 2, 3.5, 3.5, 1};
  double sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < 5; ++i) {
    sxy += (rs[i] - 3) * (rg[i] - 3);
    sxx += (rs[i] - 3) * (rs[i] - 3);
    syy += (rg[i] - 3) * (rg[i] - 3);
  }
  EXPECT_NEAR(j["spearman"].get<double>(), sxy / std::sqrt(sxx * syy), 1e-12);
  EXPECT_TRUE(j["pearson"].is_number());
  EXPECT_EQ(j["score_histogram"]["counts"].size(), 20u);
  EXPECT_EQ(j["largest_rank_disagreements"].size(), 5u);
}

TEST(Report, HtmlIsSelfContainedWithBothPlots) {
  auto in = sample();
  std::string html = render_report_html(in, evaluate(in));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(html, "<circle class='pt'"), 5u);  // one point per pair
  EXPECT_EQ(count(html, "<rect class='bar'"), 40u);  // score and gold histograms
  EXPECT_NE(html.find("id='fit'"), std::string::npos);
  // No external resources: the only URL is the SVG namespace.
  std::regex url("(src|href)\\s*=|https?://(?!www\\.w3\\.org/2000/svg)");
  EXPECT_FALSE(std::regex_search(html, url));
  // User text is escaped.
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert"), std::string::npos);
}

TEST(Report, MarkdownHasSummaryAndEscapedCells) {
  auto in = sample();
  std::string md = render_report_markdown(in, evaluate(in));
  EXPECT_NE(md.find("| pairs | 5 |"), std::string::npos);
  EXPECT_NE(md.find("c \\| pipe"), std::string::npos);
  EXPECT_NE(md.find("## Score histogram"), std::string::npos);
}

TEST(Report, FormatFromPathAndBadInput) {
  EXPECT_EQ(report_format_for_path("r.json"), ReportFormat::Json);
  EXPECT_EQ(report_format_for_path("r.MD"), ReportFormat::Markdown);
  EXPECT_EQ(report_format_for_path("dir/r.html"), ReportFormat::Html);
  EXPECT_THROW(report_format_for_path("r.txt"), Error);
  EvaluationInput bad;
  bad.scores = {1, 2};
  bad.gold = {1};
  EXPECT_THROW(evaluate(bad), Error);
}

}  // namespace
}  // namespace sbert
