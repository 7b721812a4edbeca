// community_detection against the sentence-transformers golden and hand-made cases.
#include <cmath>
#include <limits>

#include "sbert/cluster.h"
#include "sbert/error.h"
#include "test_support.h"

using sbert::CommunityOptions;
using sbert::Matrix;

namespace {

Matrix golden_vectors(const nlohmann::json& g, size_t rows) {
  const size_t cols = g["st_encode_shape"][1].get<size_t>();
  const auto& flat = g["st_encode"];
  Matrix m(rows, cols);
  for (size_t i = 0; i < rows * cols; ++i) m.data[i] = flat[i].get<float>();
  return m;
}

}  // namespace

TEST(CommunityDetection, ReproducesSentenceTransformersGolden) {
  SBERT_REQUIRE_SHARED(shared);
  const auto g = sbert::testing::load_json(shared / "fixtures/golden/bert-wordpiece-mean-norm.json");
  const auto& cd = g["community_detection"];
  ASSERT_EQ(g["st_encode_shape"][0].get<size_t>(), g["texts"].size());
  const Matrix x = golden_vectors(g, 150);
  CommunityOptions o;
  o.threshold = static_cast<float>(cd["threshold"].get<double>());
  o.min_community_size = cd["min_community_size"].get<size_t>();
  const auto got = sbert::community_detection(x, o);
  const auto want = cd["communities"].get<std::vector<std::vector<size_t>>>();
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(got, want);

  // Small batches change nothing (the rows are processed independently).
  o.batch_size = 7;
  EXPECT_EQ(sbert::community_detection(x, o), want);

  // Labels: position in the list, -1 elsewhere.
  const auto labels = sbert::community_labels(got, x.rows);
  EXPECT_EQ(labels.num_clusters, want.size());
  size_t assigned = 0;
  for (size_t c = 0; c < want.size(); ++c)
    for (size_t idx : want[c]) EXPECT_EQ(labels.labels[idx], static_cast<int>(c));
  for (int l : labels.labels) assigned += l >= 0;
  size_t total = 0;
  for (const auto& c : want) total += c.size();
  EXPECT_EQ(assigned, total);
}

// Two tight groups of 4 and 3 plus isolated rows; with min size 3 both groups are found, the
// larger first, members ordered by decreasing similarity to the seed row.
TEST(CommunityDetection, HandMadeGroups) {
  Matrix x(9, 3);
  const float rows[9][3] = {{1, 0, 0},    {0, 1, 0},      {0.99f, 0.1f, 0}, {0, 0.98f, 0.15f},
                            {0, 0, 1},    {0.97f, 0.2f, 0}, {0, 0.95f, 0.3f}, {0.995f, 0.05f, 0},
                            {-1, -1, -1}};
  for (size_t i = 0; i < 9; ++i)
    for (size_t j = 0; j < 3; ++j) x.at(i, j) = rows[i][j];
  CommunityOptions o;
  o.threshold = 0.9f;
  o.min_community_size = 3;
  const auto got = sbert::community_detection(x, o);
  ASSERT_EQ(got.size(), 2u);
  // Group A = {0, 2, 5, 7}; the first seed is row 0: by similarity to row 0: 0, 7, 2, 5.
  EXPECT_EQ(got[0], (std::vector<size_t>{0, 7, 2, 5}));
  // Group B = {1, 3, 6}; seed row 1: 1, 3, 6.
  EXPECT_EQ(got[1], (std::vector<size_t>{1, 3, 6}));

  o.min_community_size = 5;  // no group is that large
  EXPECT_TRUE(sbert::community_detection(x, o).empty());
}

TEST(CommunityDetection, RejectsBadInput) {
  Matrix x(3, 2);
  x.data = {1, 0, 0, 1, 1, 1};
  CommunityOptions o;
  o.threshold = 1.5f;
  EXPECT_THROW(sbert::community_detection(x, o), sbert::Error);
  o.threshold = -1.01f;
  EXPECT_THROW(sbert::community_detection(x, o), sbert::Error);
  o.threshold = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(sbert::community_detection(x, o), sbert::Error);
  o.threshold = 0.5f;
  x.at(1, 1) = std::numeric_limits<float>::quiet_NaN();
  try {
    sbert::community_detection(x, o);
    FAIL() << "NaN accepted";
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
  }
}
