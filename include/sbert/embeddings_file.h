// Embedding files, both ways: reading precomputed embeddings (NumPy .npy, 2-D float32/float64,
// or the JSON Lines written by `sbert embed`: one object per line with an "embedding" array;
// "text" and "id" kept if present), and writing them in every format `sbert embed` offers.
#pragma once
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "sbert/matrix.h"

namespace sbert {

struct EmbeddingsFile {
  Matrix vectors;
  std::vector<std::string> texts;  // jsonl "text" per row when every row has one, else empty
  std::vector<std::string> ids;    // jsonl "id" per row when every row has one, else empty
};

// Every format `sbert embed` writes (but the projector folder): .npy (2-D float32/float64);
// .jsonl/.ndjson/.json (an "embedding" array per object); .csv/.tsv (a header row with columns
// e0..eN, "id" and "text" kept); .f32 or any file with a PATH.json shape beside it (raw
// little-endian float32, shape from the sidecar); anything else is sniffed (the npy magic
// "\x93NUMPY", else JSON Lines). Throws sbert::Error naming the file (and line) at fault: missing
// or non-numeric values, rows of different lengths, no rows, an f32 file without its sidecar or
// whose size disagrees with it.
EmbeddingsFile read_embeddings(const std::string& path);

// The sidecar of a raw float32 file: "vecs.f32" -> "vecs.f32.json", holding
// {"rows": N, "dimension": D, "dtype": "float32", "byte_order": "little"}.
std::string f32_shape_path(const std::string& path);
std::string f32_shape_json(size_t rows, size_t dimension);

enum class EmbeddingFormat { Jsonl, Csv, Tsv, Npy, F32, Projector };
// "jsonl" | "csv" | "tsv" | "npy" | "f32" | "projector"; throws sbert::Error otherwise.
EmbeddingFormat parse_embedding_format(const std::string& name);

struct EmbeddingWriterOptions {
  EmbeddingFormat format = EmbeddingFormat::Jsonl;
  std::string path;    // file ("" or "-" = stdout); projector: a folder (required)
  bool with_id = false;    // an "id" column/key per row
  bool with_text = false;  // a "text" column/key per row (projector: always in meta.tsv)
  std::vector<std::string> meta_columns;  // projector: extra metadata columns of meta.tsv
};

// What goes beside one vector.
struct EmbeddingLabels {
  std::string id;
  std::string text;
  std::vector<std::string> meta;  // one value per meta column
};

class AtomicOutput;

// Streams rows as they come: jsonl {"index", ["id",] ["text",] "embedding"}, csv/tsv
// (index,[id,][text,]e0..eN), f32 (raw little-endian float32 + a PATH.json shape sidecar when
// written to a named file), npy (spooled to a temporary
// file until the row count is known, so memory stays bounded) and projector (vecs.tsv +
// meta.tsv in a folder, for projector.tensorflow.org). Nothing is left behind unless finish()
// succeeds.
class EmbeddingWriter {
 public:
  explicit EmbeddingWriter(EmbeddingWriterOptions options);
  ~EmbeddingWriter();
  EmbeddingWriter(const EmbeddingWriter&) = delete;
  EmbeddingWriter& operator=(const EmbeddingWriter&) = delete;

  // Rows of `m` with their labels (labels.size() == m.rows, or empty when nothing is labelled).
  void write(const Matrix& m, const std::vector<EmbeddingLabels>& labels);
  // Commits the output; `dimension` sizes an empty .npy.
  void finish(size_t dimension);
  size_t rows() const { return index_; }
  // The "index" of the next row written (a shard of a larger run starts past 0); call before
  // the first write().
  void set_first_index(size_t index) { base_ = index; }

 private:
  void write_meta(const EmbeddingLabels& labels, bool first);
  EmbeddingWriterOptions o_;
  std::unique_ptr<AtomicOutput> out_, vecs_, meta_, shape_;
  std::FILE* spool_ = nullptr;
  size_t index_ = 0, cols_ = 0, base_ = 0;
  bool header_written_ = false;
  bool created_dir_ = false;
  bool finished_ = false;
};

}  // namespace sbert
