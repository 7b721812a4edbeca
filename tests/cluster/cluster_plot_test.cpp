// The HTML plot: one circle per point, texts escaped, nothing fetched from the network, and
// summaries pick the member nearest the centre.
#include <regex>

#include "sbert/cluster.h"
#include "sbert/cluster_plot.h"
#include "sbert/error.h"
#include "test_support.h"

using sbert::Matrix;

namespace {
size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST(ClusterPlot, SelfContainedPageWithOneCirclePerPoint) {
  Matrix xy(4, 2);
  xy.data = {0, 0, 1, 1, -2, 0.5f, 3, -1};
  const std::vector<int> labels = {0, 1, -1, 0};
  const std::vector<std::string> texts = {"alpha", "<script>alert(1)</script>", "a & b", "\"quoted\""};
  sbert::PlotOptions o;
  o.title = "T<1>";
  const std::string html = sbert::cluster_plot_html(xy, labels, texts, o);
  EXPECT_EQ(count(html, "<circle "), 4u);
  EXPECT_EQ(count(html, "<script>"), 1u);  // ours only; the text's tag is escaped
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("a &amp; b"), std::string::npos);
  EXPECT_NE(html.find("<title>T&lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("unassigned"), std::string::npos);
  EXPECT_NE(html.find("<p>4 points, 2 clusters."), std::string::npos);
  // One cluster is "1 cluster", not "1 clusters".
  const std::string one = sbert::cluster_plot_html(xy, {0, 0, 0, -1}, texts, o);
  EXPECT_NE(one.find("<p>4 points, 1 cluster."), std::string::npos);
  // No external resources: the only URL is the SVG namespace.
  EXPECT_EQ(count(html, "http"), 1u);
  EXPECT_NE(html.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  // Points inside the drawing: cx in [0, width], cy in [0, height].
  std::regex circle("cx=\"([-0-9.]+)\" cy=\"([-0-9.]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), circle); it != std::sregex_iterator(); ++it) {
    const double cx = std::stod((*it)[1]), cy = std::stod((*it)[2]);
    EXPECT_GE(cx, 0);
    EXPECT_LE(cx, o.width);
    EXPECT_GE(cy, 0);
    EXPECT_LE(cy, o.height);
  }
}

TEST(ClusterPlot, RejectsMismatchedInput) {
  Matrix xy(2, 2);
  EXPECT_THROW(sbert::cluster_plot_html(xy, {0}, {}), sbert::Error);
  EXPECT_THROW(sbert::cluster_plot_html(xy, {0, 0}, {"one"}), sbert::Error);
  EXPECT_THROW(sbert::cluster_plot_html(Matrix(2, 3), {0, 0}, {}), sbert::Error);
}

TEST(ClusterSummary, MedoidIsNearestToCentre) {
  Matrix x(7, 2);
  // cluster 0: (0,0) (2,0) (1,0.1) (1,3) -> mean (1, 0.775): nearest is (1, 0.1)
  // cluster 1: (10,10) (11,10) (10.4,10) -> mean (10.4667, 10): nearest (10.4, 10)
  x.data = {0, 0, 10, 10, 2, 0, 11, 10, 1, 0.1f, 1, 3, 10.4f, 10};
  const std::vector<int> labels = {0, 1, 0, 1, 0, 0, 1};
  const auto s = sbert::summarize_clusters(x, labels, sbert::ClusterMetric::Euclidean, 2);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].label, 0);
  EXPECT_EQ(s[0].size, 4u);
  EXPECT_EQ(s[0].medoid, 4u);
  EXPECT_EQ(s[0].representatives, (std::vector<size_t>{4, 0}));  // (0,0): 1.26 vs (2,0) tie -> row order
  EXPECT_EQ(s[1].size, 3u);
  EXPECT_EQ(s[1].medoid, 6u);
}
