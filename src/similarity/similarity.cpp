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

// Every score sbert reports comes from these per-pair kernels: products are exact in double,
// summed in a fixed order (four lanes) that does not depend on where the rows sit in memory or
// in a block. A pair therefore gets the same float whether it is scored alone, in a matrix, in
// top-k or in mining, and identical rows tie exactly (so ties can go to the lower index).
// BLAS-style GEMM does not give that: its rounding depends on the block shape and position.
double dot_exact(const float* a, const float* b, size_t n) {
  double acc[4] = {0, 0, 0, 0};
  size_t d = 0;
  for (; d + 4 <= n; d += 4)
    for (size_t l = 0; l < 4; ++l) acc[l] += static_cast<double>(a[d + l]) * b[d + l];
  double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  for (; d < n; ++d) s += static_cast<double>(a[d]) * b[d];
  return s;
}

double squared_distance_exact(const float* a, const float* b, size_t n) {
  double acc[4] = {0, 0, 0, 0};
  size_t d = 0;
  for (; d + 4 <= n; d += 4)
    for (size_t l = 0; l < 4; ++l) {
      const double x = static_cast<double>(a[d + l]) - b[d + l];
      acc[l] += x * x;
    }
  double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  for (; d < n; ++d) {
    const double x = static_cast<double>(a[d]) - b[d];
    s += x * x;
  }
  return s;
}

double manhattan_exact(const float* a, const float* b, size_t n) {
  double acc[4] = {0, 0, 0, 0};
  size_t d = 0;
  for (; d + 4 <= n; d += 4)
    for (size_t l = 0; l < 4; ++l) acc[l] += std::fabs(static_cast<double>(a[d + l]) - b[d + l]);
  double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  for (; d < n; ++d) s += std::fabs(static_cast<double>(a[d]) - b[d]);
  return s;
}

std::vector<double> norms(const Matrix& m) {
  std::vector<double> out(m.rows);
  for (size_t i = 0; i < m.rows; ++i) out[i] = std::sqrt(dot_exact(m.row(i), m.row(i), m.cols));
  return out;
}

// Scores rows of A against rows of B. `exact` is the reference kernel; `fast_block` is a GEMM
// estimate (dot and cosine only) used to skip pairs that cannot enter a top-k, with
// `margin(i, j)` a bound on |fast - exact|.
class BlockScorer {
 public:
  BlockScorer(const Matrix& a, const Matrix& b, SimilarityFunction function)
      : a_(a), b_(b), function_(function) {
    if (function_ == SimilarityFunction::Cosine || function_ == SimilarityFunction::Dot) {
      norm_a_ = norms(a);
      norm_b_ = (&a == &b) ? norm_a_ : norms(b);
      // Float GEMM of length-D dot products: |error| <= gamma_D * |a| |b| (any summation
      // order), gamma_D ~ D u; doubled, plus the cosine scaling's own roundings.
      gamma_ = 2.0 * (static_cast<double>(a.cols) + 4.0) * std::ldexp(1.0, -24);
    }
  }

  bool has_fast() const { return !norm_a_.empty(); }

  float exact(size_t i, size_t j) const {
    const float* x = a_.row(i);
    const float* y = b_.row(j);
    const size_t n = a_.cols;
    switch (function_) {
      case SimilarityFunction::Dot: return static_cast<float>(dot_exact(x, y, n));
      case SimilarityFunction::Cosine:
        // torch normalize: x / max(|x|, 1e-12), so a zero vector scores 0.
        return static_cast<float>(dot_exact(x, y, n) /
                                  (std::max(norm_a_[i], 1e-12) * std::max(norm_b_[j], 1e-12)));
      case SimilarityFunction::Euclidean:
        return -static_cast<float>(std::sqrt(squared_distance_exact(x, y, n)));
      case SimilarityFunction::Manhattan: return -static_cast<float>(manhattan_exact(x, y, n));
    }
    return 0.0f;
  }

  void exact_block(size_t a_first, size_t a_count, size_t b_first, size_t b_count, Matrix& out) const {
    resize(out, a_count, b_count);
    for (size_t i = 0; i < a_count; ++i) {
      float* r = out.row(i);
      for (size_t j = 0; j < b_count; ++j) r[j] = exact(a_first + i, b_first + j);
    }
  }

  void fast_block(size_t a_first, size_t a_count, size_t b_first, size_t b_count, Matrix& out) const {
    resize(out, a_count, b_count);
    if (a_count == 0 || b_count == 0) return;
    Rows result(out.data.data(), static_cast<Eigen::Index>(a_count), static_cast<Eigen::Index>(b_count));
    result.noalias() = rows_of(a_, a_first, a_count) * rows_of(b_, b_first, b_count).transpose();
    if (function_ != SimilarityFunction::Cosine) return;
    for (size_t i = 0; i < a_count; ++i) {
      float* r = out.row(i);
      const double ia = 1.0 / std::max(norm_a_[a_first + i], 1e-12);
      for (size_t j = 0; j < b_count; ++j)
        r[j] = static_cast<float>(r[j] * ia / std::max(norm_b_[b_first + j], 1e-12));
    }
  }

  double margin(size_t i, size_t j) const {
    if (function_ == SimilarityFunction::Cosine) return gamma_ + 1e-12;
    return gamma_ * norm_a_[i] * norm_b_[j] + 1e-30;
  }

 private:
  static void resize(Matrix& out, size_t rows, size_t cols) {
    out.rows = rows;
    out.cols = cols;
    out.data.resize(rows * cols);
  }
  const Matrix& a_;
  const Matrix& b_;
  SimilarityFunction function_;
  std::vector<double> norm_a_, norm_b_;
  double gamma_ = 0;
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
    case SimilarityFunction::Dot: return static_cast<float>(dot_exact(a, b, dim));
    case SimilarityFunction::Cosine:
      return static_cast<float>(dot_exact(a, b, dim) /
                                (std::max(std::sqrt(dot_exact(a, a, dim)), 1e-12) *
                                 std::max(std::sqrt(dot_exact(b, b, dim)), 1e-12)));
    case SimilarityFunction::Euclidean:
      return -static_cast<float>(std::sqrt(squared_distance_exact(a, b, dim)));
    case SimilarityFunction::Manhattan: return -static_cast<float>(manhattan_exact(a, b, dim));
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
    scorer.exact_block(first, n, 0, b.rows, block);
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
      const bool fast = scorer.has_fast();
      if (fast) scorer.fast_block(q0, qn, c0, cn, scores);
      for (size_t i = 0; i < qn; ++i) {
        TopKeeper& keeper = keepers[i];
        const size_t q = q0 + i;
        const float* estimate = fast ? scores.row(i) : nullptr;
        for (size_t j = 0; j < cn; ++j) {
          const size_t index = c0 + j;
          if (options.exclude_self && index == q) continue;
          // Most candidates cannot beat the current k-th best even at the top of their error
          // margin; only the others are scored exactly. A tie with the k-th best also loses
          // (corpus indexes only grow), so the test is strict.
          if (fast && keeper.full() && !std::isnan(keeper.worst().score) &&
              static_cast<double>(estimate[j]) + scorer.margin(q, index) < keeper.worst().score)
            continue;
          const float exact = scorer.exact(q, index);
          if (keeper.full() && !std::isnan(keeper.worst().score) && !(exact > keeper.worst().score))
            continue;
          keeper.offer({index, exact});
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
