// 2-D projections of embeddings for plots: PCA (deterministic) and Barnes-Hut t-SNE.
#pragma once
#include <cstddef>
#include <string>

#include "sbert/matrix.h"

namespace sbert {

enum class ProjectionMethod { Pca, Tsne };
// "pca" | "tsne"; throws sbert::Error on anything else.
ProjectionMethod parse_projection_method(const std::string& name);

// The first `dims` principal components (rows centred; no whitening). Each axis is oriented so
// that its largest-magnitude coordinate is positive (sklearn's svd_flip convention), which makes
// the result independent of the eigen solver's sign choice. Columns past the data's rank are 0.
Matrix project_pca(const Matrix& x, size_t dims = 2);

struct TsneOptions {
  double perplexity = 30.0;     // clamped to (rows - 1) / 3 for small inputs
  int iterations = 1000;
  double theta = 0.5;           // Barnes-Hut accuracy (0 = exact repulsion, slow)
  double learning_rate = 0.0;   // 0: max(rows / 12 / 4, 50), sklearn's "auto"
  double early_exaggeration = 12.0;
  unsigned seed = 1234;         // jitter added to the PCA initialisation
  size_t pca_dims = 50;         // rows are reduced to this many PCA dimensions first
};
// 2-D t-SNE (van der Maaten 2014): exact perplexity-calibrated affinities over the 3*perplexity
// nearest neighbours, Barnes-Hut quadtree for the repulsive forces, PCA initialisation.
// Deterministic for a given seed. Roughly 1-3 s for 2000 rows on one core.
Matrix project_tsne(const Matrix& x, const TsneOptions& options = {});

Matrix project(const Matrix& x, ProjectionMethod method, unsigned seed = 1234);

}  // namespace sbert
