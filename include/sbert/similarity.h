// Similarity between embeddings with sentence-transformers semantics (`model.similarity`,
// `util.semantic_search`, `util.paraphrase_mining`): cosine, dot product, and euclidean /
// manhattan distances reported NEGATED so that larger always means more similar.
//
// Everything that could be |A| x |B| is computed in blocks of rows, so memory is bounded by a
// block, not by the product of the sizes.
#pragma once
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sbert/matrix.h"

namespace sbert {

enum class SimilarityFunction { Cosine, Dot, Euclidean, Manhattan };

// "cosine" | "dot" (also "dot_product") | "euclidean" | "manhattan"; throws sbert::Error otherwise.
SimilarityFunction parse_similarity_function(const std::string& name);
std::string similarity_function_name(SimilarityFunction function);

// One score between two vectors of `dim` floats.
float similarity(const float* a, const float* b, size_t dim, SimilarityFunction function);

// Throws sbert::Error when the two matrices do not have the same number of columns.
void check_same_dimension(const Matrix& a, const Matrix& b, const std::string& what_a = "A",
                          const std::string& what_b = "B");

// Row i of `a` against row i of `b` (same row count required).
std::vector<float> pairwise_similarity(const Matrix& a, const Matrix& b,
                                       SimilarityFunction function);

// Receives consecutive blocks of the |A| x |B| matrix: `block` holds rows
// [first_row, first_row + block.rows) of it.
using SimilarityBlockCallback = std::function<void(size_t first_row, const Matrix& block)>;

// Streams the full |A| x |B| similarity matrix in blocks of at most `block_rows` rows of A
// (0: a block size that keeps one block near 16 MiB).
void similarity_blocks(const Matrix& a, const Matrix& b, SimilarityFunction function,
                       const SimilarityBlockCallback& callback, size_t block_rows = 0);

// The whole |A| x |B| matrix at once (for small inputs).
Matrix similarity_matrix(const Matrix& a, const Matrix& b, SimilarityFunction function);

struct Match {
  size_t index = 0;  // row of the corpus
  float score = 0.0f;
};

// Orders matches best first: higher score, then the lower index; NaN scores last.
bool match_before(const Match& x, const Match& y);

struct TopKOptions {
  size_t k = 10;
  // Queries and corpus are the same matrix: never match a row with itself.
  bool exclude_self = false;
  size_t query_block = 256;    // rows of queries scored at once
  size_t corpus_block = 8192;  // rows of the corpus scored at once
};

// Called once per query, in query order, with its best matches (best first).
using TopKCallback = std::function<void(size_t query, const std::vector<Match>& matches)>;

// Exact top-k: for each row of `queries`, the `k` best rows of `corpus`; ties go to the lower
// corpus index. Memory: one query block x corpus block of scores plus k matches per query of
// the current block.
void top_k(const Matrix& queries, const Matrix& corpus, SimilarityFunction function,
           const TopKOptions& options, const TopKCallback& callback);
std::vector<std::vector<Match>> top_k(const Matrix& queries, const Matrix& corpus,
                                      SimilarityFunction function, const TopKOptions& options);

struct ParaphrasePair {
  float score = 0.0f;
  size_t i = 0;  // i < j
  size_t j = 0;
};

struct MiningOptions {
  size_t top_k = 100;          // candidates kept per sentence
  size_t max_pairs = 500000;   // at most this many pairs are kept (the best ones)
  std::optional<float> threshold;  // keep only pairs with score >= threshold
  size_t query_block = 1024;
  size_t corpus_block = 16384;
};

// sentence-transformers `util.paraphrase_mining_embeddings`: every sentence is scored against
// all others block by block, its top_k best partners become candidate pairs, at most max_pairs
// of the best candidates are kept, (i, j) and (j, i) are merged, and the result is sorted by
// score (descending; ties by i, then j). The N x N matrix is never held in memory.
std::vector<ParaphrasePair> paraphrase_mining(const Matrix& embeddings,
                                              SimilarityFunction function,
                                              const MiningOptions& options = {});

}  // namespace sbert
