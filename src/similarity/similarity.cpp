#include "sbert/similarity.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "sbert/error.h"

namespace sbert {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRows = Eigen::Map<const RowMatrix>;
using Rows = Eigen::Map<RowMatrix>;

ConstRows rows_of(const Matrix& m, size_t first, size_t count) {
  return ConstRows(m.data.data() + first * m.cols, static_cast<Eigen::Index>(count),
                   static_cast<Eigen::Index>(m.cols));
}

// torch.nn.functional.normalize: x / max(||x||, 1e-12), so a zero vector scores 0.
std::vector<float> inverse_norms(const Matrix& m) {
  std::vector<float> inv(m.rows);
  for (size_t i = 0; i < m.rows; ++i) {
    double s = 0;
    const float* r = m.row(i);
    for (size_t d = 0; d < m.cols; ++d) s += static_cast<double>(r[d]) * r[d];
    inv[i] = static_cast<float>(1.0 / std::max(std::sqrt(s), 1e-12));
  }
  return inv;
}

// Scores rows [a_first, a_first+a_count) of A against rows [b_first, b_first+b_count) of B into
// `out` (a_count x b_count). Inverse norms are only used for cosine.
class BlockScorer {
 public:
  BlockScorer(const Matrix& a, const Matrix& b, SimilarityFunction function)
      : a_(a), b_(b), function_(function) {
    if (function_ == SimilarityFunction::Cosine) {
      inv_a_ = inverse_norms(a);
      inv_b_ = (&a == &b) ? inv_a_ : inverse_norms(b);
    }
  }

  void score(size_t a_first, size_t a_count, size_t b_first, size_t b_count, Matrix& out) const {
    out.rows = a_count;
    out.cols = b_count;
    out.data.resize(a_count * b_count);
    if (a_count == 0 || b_count == 0) return;
    Rows result(out.data.data(), static_cast<Eigen::Index>(a_count),
                static_cast<Eigen::Index>(b_count));
    ConstRows qa = rows_of(a_, a_first, a_count);
    ConstRows qb = rows_of(b_, b_first, b_count);
    switch (function_) {
      case SimilarityFunction::Dot:
        result.noalias() = qa * qb.transpose();
        break;
      case SimilarityFunction::Cosine:
        result.noalias() = qa * qb.transpose();
        for (size_t i = 0; i < a_count; ++i) {
          float* r = out.row(i);
          const float ia = inv_a_[a_first + i];
          for (size_t j = 0; j < b_count; ++j) r[j] *= ia * inv_b_[b_first + j];
        }
        break;
      case SimilarityFunction::Euclidean:
        // Direct differences rather than |a|^2+|b|^2-2ab: exact zeros on identical rows and no
        // cancellation for near neighbours, which are the scores that matter.
        for (size_t i = 0; i < a_count; ++i)
          result.row(static_cast<Eigen::Index>(i)) =
              -(qb.rowwise() - qa.row(static_cast<Eigen::Index>(i))).rowwise().norm().transpose();
        break;
      case SimilarityFunction::Manhattan:
        for (size_t i = 0; i < a_count; ++i)
          result.row(static_cast<Eigen::Index>(i)) =
              -(qb.rowwise() - qa.row(static_cast<Eigen::Index>(i)))
                   .cwiseAbs()
                   .rowwise()
                   .sum()
                   .transpose();
        break;
    }
  }

 private:
  const Matrix& a_;
  const Matrix& b_;
  SimilarityFunction function_;
  std::vector<float> inv_a_, inv_b_;
};

// Keeps the k best matches seen so far. The heap's top is the worst kept match.
class TopKeeper {
 public:
  explicit TopKeeper(size_t k) : k_(k) { heap_.reserve(k); }
  void reset() { heap_.clear(); }
  // Cheap pre-check before offer(): can a match with this score enter?
  bool full() const { return heap_.size() >= k_; }
  const Match& worst() const { return heap_.front(); }
  void offer(const Match& m) {
    if (k_ == 0) return;
    auto worse_first = [](const Match& x, const Match& y) { return match_before(x, y); };
    if (heap_.size() < k_) {
      heap_.push_back(m);
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    } else if (match_before(m, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), worse_first);
      heap_.back() = m;
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    }
  }
  std::vector<Match> sorted() const {
    std::vector<Match> out = heap_;
    std::sort(out.begin(), out.end(), match_before);
    return out;
  }

 private:
  size_t k_;
  std::vector<Match> heap_;
};

size_t default_block_rows(size_t cols) {
  constexpr size_t kTargetFloats = 4u << 20;  // 16 MiB of scores per block
  return std::max<size_t>(1, kTargetFloats / std::max<size_t>(cols, 1));
}

}  // namespace

SimilarityFunction parse_similarity_function(const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "cosine" || n == "cos" || n == "cos_sim") return SimilarityFunction::Cosine;
  if (n == "dot" || n == "dot_product" || n == "dot_score") return SimilarityFunction::Dot;
  if (n == "euclidean") return SimilarityFunction::Euclidean;
  if (n == "manhattan") return SimilarityFunction::Manhattan;
  throw Error("unknown similarity function '" + name +
              "' (expected cosine, dot, euclidean or manhattan)");
}

std::string similarity_function_name(SimilarityFunction function) {
  switch (function) {
    case SimilarityFunction::Cosine: return "cosine";
    case SimilarityFunction::Dot: return "dot";
    case SimilarityFunction::Euclidean: return "euclidean";
    case SimilarityFunction::Manhattan: return "manhattan";
  }
  return "cosine";
}

float similarity(const float* a, const float* b, size_t dim, SimilarityFunction function) {
  switch (function) {
    case SimilarityFunction::Dot: {
      float s = 0;
      for (size_t d = 0; d < dim; ++d) s += a[d] * b[d];
      return s;
    }
    case SimilarityFunction::Cosine: {
      double s = 0, na = 0, nb = 0;
      for (size_t d = 0; d < dim; ++d) {
        s += static_cast<double>(a[d]) * b[d];
        na += static_cast<double>(a[d]) * a[d];
        nb += static_cast<double>(b[d]) * b[d];
      }
      return static_cast<float>(s / (std::max(std::sqrt(na), 1e-12) * std::max(std::sqrt(nb), 1e-12)));
    }
    case SimilarityFunction::Euclidean: {
      double s = 0;
      for (size_t d = 0; d < dim; ++d) {
        double x = static_cast<double>(a[d]) - b[d];
        s += x * x;
      }
      return -static_cast<float>(std::sqrt(s));
    }
    case SimilarityFunction::Manhattan: {
      double s = 0;
      for (size_t d = 0; d < dim; ++d) s += std::fabs(static_cast<double>(a[d]) - b[d]);
      return -static_cast<float>(s);
    }
  }
  return 0.0f;
}

void check_same_dimension(const Matrix& a, const Matrix& b, const std::string& what_a,
                          const std::string& what_b) {
  if (a.cols != b.cols)
    throw Error("embedding dimensions differ: " + what_a + " has " + std::to_string(a.cols) +
                " dimensions, " + what_b + " has " + std::to_string(b.cols));
}

std::vector<float> pairwise_similarity(const Matrix& a, const Matrix& b,
                                       SimilarityFunction function) {
  check_same_dimension(a, b);
  if (a.rows != b.rows)
    throw Error("pairwise similarity needs the same number of rows: A has " +
                std::to_string(a.rows) + ", B has " + std::to_string(b.rows));
  std::vector<float> out(a.rows);
  for (size_t i = 0; i < a.rows; ++i) out[i] = similarity(a.row(i), b.row(i), a.cols, function);
  return out;
}

void similarity_blocks(const Matrix& a, const Matrix& b, SimilarityFunction function,
                       const SimilarityBlockCallback& callback, size_t block_rows) {
  check_same_dimension(a, b);
  if (block_rows == 0) block_rows = default_block_rows(b.rows);
  BlockScorer scorer(a, b, function);
  Matrix block;
  for (size_t first = 0; first < a.rows; first += block_rows) {
    size_t n = std::min(block_rows, a.rows - first);
    scorer.score(first, n, 0, b.rows, block);
    callback(first, block);
  }
}

Matrix similarity_matrix(const Matrix& a, const Matrix& b, SimilarityFunction function) {
  Matrix out(a.rows, b.rows);
  similarity_blocks(a, b, function, [&](size_t first, const Matrix& block) {
    std::copy(block.data.begin(), block.data.end(), out.data.begin() + first * out.cols);
  });
  return out;
}

bool match_before(const Match& x, const Match& y) {
  const bool xn = std::isnan(x.score), yn = std::isnan(y.score);
  if (xn != yn) return yn;  // a real score beats NaN
  if (!xn && x.score != y.score) return x.score > y.score;
  return x.index < y.index;
}

void top_k(const Matrix& queries, const Matrix& corpus, SimilarityFunction function,
           const TopKOptions& options, const TopKCallback& callback) {
  check_same_dimension(queries, corpus, "the queries", "the corpus");
  if (options.exclude_self && queries.rows != corpus.rows)
    throw Error("top-k excluding self needs the queries to be the corpus");
  const size_t qblock = std::max<size_t>(1, options.query_block);
  const size_t cblock = std::max<size_t>(1, options.corpus_block);
  const size_t k = std::min(options.k, corpus.rows);
  BlockScorer scorer(queries, corpus, function);
  std::vector<TopKeeper> keepers;
  Matrix scores;
  for (size_t q0 = 0; q0 < queries.rows; q0 += qblock) {
    const size_t qn = std::min(qblock, queries.rows - q0);
    keepers.assign(qn, TopKeeper(k));
    for (size_t c0 = 0; c0 < corpus.rows; c0 += cblock) {
      const size_t cn = std::min(cblock, corpus.rows - c0);
      scorer.score(q0, qn, c0, cn, scores);
      for (size_t i = 0; i < qn; ++i) {
        TopKeeper& keeper = keepers[i];
        const float* r = scores.row(i);
        for (size_t j = 0; j < cn; ++j) {
          const size_t index = c0 + j;
          if (options.exclude_self && index == q0 + i) continue;
          // Most candidates lose to the current worst; skip the heap for them. Equal scores
          // with a higher index also lose (corpus indexes only grow), so `<=` is exact.
          if (keeper.full() && !std::isnan(keeper.worst().score) && !(r[j] > keeper.worst().score))
            continue;
          keeper.offer({index, r[j]});
        }
      }
    }
    for (size_t i = 0; i < qn; ++i) callback(q0 + i, keepers[i].sorted());
  }
}

std::vector<std::vector<Match>> top_k(const Matrix& queries, const Matrix& corpus,
                                      SimilarityFunction function, const TopKOptions& options) {
  std::vector<std::vector<Match>> out(queries.rows);
  top_k(queries, corpus, function, options,
        [&](size_t q, const std::vector<Match>& matches) { out[q] = matches; });
  return out;
}

namespace {

bool pair_before(const ParaphrasePair& x, const ParaphrasePair& y) {
  const bool xn = std::isnan(x.score), yn = std::isnan(y.score);
  if (xn != yn) return yn;
  if (!xn && x.score != y.score) return x.score > y.score;
  if (x.i != y.i) return x.i < y.i;
  return x.j < y.j;
}

// Merges (i, j) duplicates (keeping the higher score, so the result does not depend on which
// side found the pair first), sorts best first and keeps at most `limit`.
void compact_pairs(std::vector<ParaphrasePair>& pairs, size_t limit) {
  std::sort(pairs.begin(), pairs.end(), [](const ParaphrasePair& x, const ParaphrasePair& y) {
    if (x.i != y.i) return x.i < y.i;
    if (x.j != y.j) return x.j < y.j;
    return pair_before(x, y);
  });
  pairs.erase(std::unique(pairs.begin(), pairs.end(),
                          [](const ParaphrasePair& x, const ParaphrasePair& y) {
                            return x.i == y.i && x.j == y.j;
                          }),
              pairs.end());
  std::sort(pairs.begin(), pairs.end(), pair_before);
  if (pairs.size() > limit) pairs.resize(limit);
}

}  // namespace

std::vector<ParaphrasePair> paraphrase_mining(const Matrix& embeddings,
                                              SimilarityFunction function,
                                              const MiningOptions& options) {
  std::vector<ParaphrasePair> pairs;
  if (options.max_pairs == 0 || options.top_k == 0) return pairs;
  TopKOptions topk;
  topk.k = options.top_k;
  topk.exclude_self = true;
  topk.query_block = options.query_block;
  topk.corpus_block = options.corpus_block;
  // The kept set only ever improves, so a pair dropped by compaction can never come back: the
  // result is the best max_pairs of all candidates while memory stays near 2 * max_pairs.
  const size_t compact_at = std::max<size_t>(options.max_pairs * 2, 1024);
  top_k(embeddings, embeddings, function, topk, [&](size_t q, const std::vector<Match>& matches) {
    for (const Match& m : matches) {
      if (options.threshold && !(m.score >= *options.threshold)) continue;
      pairs.push_back({m.score, std::min(q, m.index), std::max(q, m.index)});
    }
    if (pairs.size() >= compact_at) compact_pairs(pairs, options.max_pairs);
  });
  compact_pairs(pairs, options.max_pairs);
  return pairs;
}

}  // namespace sbert
