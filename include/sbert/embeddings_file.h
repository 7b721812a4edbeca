// Reading precomputed embeddings: NumPy .npy (2-D float32/float64) or the JSON Lines written by
// `sbert embed` (one object per line with an "embedding" array; "text" and "id" kept if present).
#pragma once
#include <string>
#include <vector>

#include "sbert/matrix.h"

namespace sbert {

struct EmbeddingsFile {
  Matrix vectors;
  std::vector<std::string> texts;  // jsonl "text" per row when every row has one, else empty
  std::vector<std::string> ids;    // jsonl "id" per row when every row has one, else empty
};

// By extension: .npy -> npy; .jsonl/.ndjson/.json -> JSON Lines; anything else is sniffed (the
// npy magic "\x93NUMPY", else JSON Lines). Throws sbert::Error naming the file (and line) at
// fault: missing or non-numeric "embedding", rows of different lengths, no rows.
EmbeddingsFile read_embeddings(const std::string& path);

}  // namespace sbert
