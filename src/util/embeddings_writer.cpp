#include <filesystem>

#include "sbert/embeddings_file.h"
#include "sbert/error.h"
#include "sbert/npy.h"
#include "sbert/output_file.h"
#include "sbert/record_writer.h"
#include "sbert/text_format.h"

namespace fs = std::filesystem;

namespace sbert {

EmbeddingFormat parse_embedding_format(const std::string& name) {
  if (name == "jsonl" || name == "ndjson") return EmbeddingFormat::Jsonl;
  if (name == "csv") return EmbeddingFormat::Csv;
  if (name == "tsv") return EmbeddingFormat::Tsv;
  if (name == "npy") return EmbeddingFormat::Npy;
  if (name == "f32") return EmbeddingFormat::F32;
  if (name == "projector") return EmbeddingFormat::Projector;
  throw Error("unknown embeddings format '" + name + "' (use jsonl, csv, tsv, npy, f32 or projector)");
}

EmbeddingWriter::EmbeddingWriter(EmbeddingWriterOptions options) : o_(std::move(options)) {
  if (o_.format == EmbeddingFormat::Projector) {
    if (o_.path.empty() || o_.path == "-")
      throw Error("--format projector writes vecs.tsv and meta.tsv: give a folder with -o DIR");
    std::error_code ec;
    if (!fs::exists(o_.path, ec)) {
      fs::create_directories(o_.path, ec);
      if (ec) throw Error("cannot create folder " + o_.path + ": " + ec.message());
      created_dir_ = true;
    } else if (!fs::is_directory(o_.path, ec)) {
      throw Error(o_.path + ": --format projector needs a folder, and this is a file");
    }
    vecs_ = std::make_unique<AtomicOutput>((fs::path(o_.path) / "vecs.tsv").string());
    meta_ = std::make_unique<AtomicOutput>((fs::path(o_.path) / "meta.tsv").string());
    return;
  }
  const bool binary = o_.format == EmbeddingFormat::Npy || o_.format == EmbeddingFormat::F32;
  out_ = std::make_unique<AtomicOutput>(o_.path, binary);
  // Raw float32 carries no shape: a named file gets PATH.json beside it (rows, dimension, dtype),
  // which read_embeddings() needs to read it back.
  if (o_.format == EmbeddingFormat::F32 && !out_->is_stdout() && !out_->is_streamed())
    shape_ = std::make_unique<AtomicOutput>(f32_shape_path(o_.path));
  if (o_.format == EmbeddingFormat::Npy) {
    spool_ = std::tmpfile();
    if (!spool_) throw Error("cannot create a temporary file for the .npy output");
  }
}

EmbeddingWriter::~EmbeddingWriter() {
  if (spool_) std::fclose(spool_);
  if (!finished_) {
    vecs_.reset();  // removes the uncommitted temporaries
    meta_.reset();
    shape_.reset();
    out_.reset();
    if (created_dir_) {
      std::error_code ec;
      fs::remove(o_.path, ec);  // only if still empty
    }
  }
}

void EmbeddingWriter::write(const Matrix& m, const std::vector<EmbeddingLabels>& labels) {
  static const EmbeddingLabels none;
  auto label = [&](size_t r) -> const EmbeddingLabels& { return r < labels.size() ? labels[r] : none; };
  // index, [id,] [text,] embedding: one record of the jsonl/csv/tsv outputs.
  auto row = [&](size_t r) {
    Fields f;
    f.add("index", base_ + index_ + r);
    if (o_.with_id) f.add("id", label(r).id);
    if (o_.with_text) f.add("text", label(r).text);
    f.add_floats("embedding", m.row(r), m.cols);
    return f;
  };
  std::string buf;
  switch (o_.format) {
    case EmbeddingFormat::Jsonl:
      for (size_t r = 0; r < m.rows; ++r) {
        row(r).append_json(buf);
        buf += '\n';
      }
      break;
    case EmbeddingFormat::Csv:
    case EmbeddingFormat::Tsv: {
      const char d = o_.format == EmbeddingFormat::Csv ? ',' : '\t';
      if (!header_written_ && m.rows) {
        header_written_ = true;
        Fields h;
        h.add("", "index");
        if (o_.with_id) h.add("", "id");
        if (o_.with_text) h.add("", "text");
        for (size_t j = 0; j < m.cols; ++j) h.add("", "e" + std::to_string(j));
        h.append_delimited(buf, d);
        buf += '\n';
      }
      for (size_t r = 0; r < m.rows; ++r) {
        row(r).append_delimited(buf, d);
        buf += '\n';
      }
      break;
    }
    case EmbeddingFormat::Projector:
      for (size_t r = 0; r < m.rows; ++r) {
        std::string line;
        for (size_t j = 0; j < m.cols; ++j) {
          if (j) line += '\t';
          append_float(line, m.row(r)[j]);
        }
        line += '\n';
        vecs_->write(line);
        write_meta(label(r), index_ + r == 0);
      }
      break;
    case EmbeddingFormat::F32:
      out_->write(m.data.data(), m.data.size() * sizeof(float));
      break;
    case EmbeddingFormat::Npy:
      if (std::fwrite(m.data.data(), sizeof(float), m.data.size(), spool_) != m.data.size())
        throw Error("cannot write the temporary .npy data");
      break;
  }
  if (m.rows) cols_ = m.cols;
  index_ += m.rows;
  if (!buf.empty()) out_->write(buf);
  if (out_) out_->flush();
}

void EmbeddingWriter::write_meta(const EmbeddingLabels& l, bool first) {
  // The projector reads a single column without a header, several columns with one.
  const bool multi = o_.with_id || !o_.meta_columns.empty();
  std::string line;
  if (first && multi) {
    line += "text";
    if (o_.with_id) line += "\tid";
    for (auto& c : o_.meta_columns) line += "\t" + tsv_clean(c);
    line += '\n';
  }
  line += tsv_clean(l.text);
  if (o_.with_id) line += "\t" + tsv_clean(l.id);
  for (size_t c = 0; c < o_.meta_columns.size(); ++c)
    line += "\t" + tsv_clean(c < l.meta.size() ? l.meta[c] : std::string());
  line += '\n';
  meta_->write(line);
}

void EmbeddingWriter::finish(size_t dimension) {
  if (o_.format == EmbeddingFormat::Projector) {
    vecs_->commit();
    meta_->commit();
    finished_ = true;
    return;
  }
  if (o_.format == EmbeddingFormat::Npy) {
    out_->write(npy_header(index_, index_ ? cols_ : dimension));
    std::rewind(spool_);
    std::vector<char> chunk(1 << 20);
    size_t n;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), spool_)) > 0) out_->write(chunk.data(), n);
  }
  if (shape_) {
    shape_->write(f32_shape_json(index_, index_ ? cols_ : dimension) + "\n");
    shape_->commit();
  }
  out_->commit();
  finished_ = true;
}

}  // namespace sbert
