// sbert embed: texts in, one vector per text out (jsonl, csv, tsv, npy, f32, projector).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli_common.h"
#include "command.h"
#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/npy.h"
#include "sbert/output_file.h"

namespace sbert::cli {
namespace {

struct EmbedArgs {
  InputOptions input;
  ModelOptions model;
  OutputOptions output;
  VectorOptions vectors;
  bool chunk = false;
  size_t chunk_overlap = 0;
  std::string prompt, prompt_name;
  std::vector<std::string> meta_columns;
  std::string chunk_output = "mean";     // mean | all
  std::string output_value = "sentence"; // sentence | token
  int layer = -1;
  bool quiet = false;
};

std::string float_array(const float* v, size_t n) {
  std::string s = "[";
  for (size_t j = 0; j < n; ++j) {
    if (j) s += ", ";
    append_float(s, v[j]);
  }
  return s + "]";
}

// JSON Lines for the per-window (--chunk-output all) and per-token (--output-value token) outputs.
void write_chunks(AtomicOutput& out, const std::vector<TextItem>& items, size_t first_index,
                  const std::vector<ChunkEmbedding>& chunks, bool with_id) {
  std::string buf;
  for (const auto& c : chunks) {
    buf += "{\"index\": " + std::to_string(first_index + c.text);
    if (with_id) buf += ", \"id\": " + json_quote(items[c.text].id);
    buf += ", \"chunk\": " + std::to_string(c.chunk) + ", \"token_start\": " + std::to_string(c.token_begin) +
           ", \"token_end\": " + std::to_string(c.token_end) +
           ", \"embedding\": " + float_array(c.vector.data(), c.vector.size()) + "}\n";
  }
  out.write(buf);
  out.flush();
}

void write_tokens(AtomicOutput& out, const std::vector<TextItem>& items, size_t first_index,
                  const std::vector<TokenEmbeddings>& toks, bool with_id) {
  std::string buf;
  for (size_t i = 0; i < toks.size(); ++i) {
    const auto& t = toks[i];
    buf += "{\"index\": " + std::to_string(first_index + i);
    if (with_id) buf += ", \"id\": " + json_quote(items[i].id);
    nlohmann::json tokens = t.encoding.tokens, ids = t.encoding.ids;
    nlohmann::json offsets = nlohmann::json::array();
    for (auto& [b, e] : t.encoding.offsets) offsets.push_back({b, e});
    buf += ", \"ids\": " + ids.dump() +
           ", \"tokens\": " + tokens.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           ", \"offsets\": " + offsets.dump() + ", \"embeddings\": [";
    for (size_t r = 0; r < t.vectors.rows; ++r) {
      if (r) buf += ", ";
      buf += float_array(t.vectors.row(r), t.vectors.cols);
    }
    buf += "]}\n";
  }
  out.write(buf);
  out.flush();
}

// Writes rows as they come; npy needs the row count first, so its data is spooled to a
// temporary file and copied behind the header at the end (memory stays bounded).
class EmbeddingWriter {
 public:
  EmbeddingWriter(const EmbedArgs& a) : a_(a) {
    const std::string& f = a.output.format;
    if (f == "projector") {
      if (a.output.path.empty() || a.output.path == "-")
        throw Error("--format projector writes vecs.tsv and meta.tsv: give a folder with -o DIR");
      dir_ = std::make_unique<OutputDirectory>(a.output.path);  // removed again if the export fails
      vecs_ = std::make_unique<AtomicOutput>((std::filesystem::path(a.output.path) / "vecs.tsv").string());
      meta_ = std::make_unique<AtomicOutput>((std::filesystem::path(a.output.path) / "meta.tsv").string());
    } else {
      out_ = std::make_unique<AtomicOutput>(a.output.path, f == "npy" || f == "f32");
      if (f == "npy") {
        spool_ = std::tmpfile();
        if (!spool_) throw Error("cannot create a temporary file for the .npy output");
      }
    }
  }
  ~EmbeddingWriter() {
    if (spool_) std::fclose(spool_);
  }

  void write(const std::vector<TextItem>& items, const Matrix& m) {
    const std::string& f = a_.output.format;
    std::string buf;
    for (size_t r = 0; r < m.rows; ++r, ++index_) {
      const float* v = m.row(r);
      const TextItem& item = items[r];
      if (f == "jsonl") {
        buf += "{\"index\": " + std::to_string(index_);
        if (!a_.input.id_field.empty()) buf += ", \"id\": " + json_quote(item.id);
        buf += ", \"embedding\": [";
        for (size_t j = 0; j < m.cols; ++j) {
          if (j) buf += ", ";
          append_float(buf, v[j]);
        }
        buf += "]}\n";
      } else if (f == "csv" || f == "tsv") {
        char d = f == "csv" ? ',' : '\t';
        if (index_ == 0) {
          buf += "index";
          if (!a_.input.id_field.empty()) buf += d + std::string("id");
          for (size_t j = 0; j < m.cols; ++j) buf += d + ("e" + std::to_string(j));
          buf += '\n';
        }
        buf += std::to_string(index_);
        if (!a_.input.id_field.empty()) buf += d + csv_field(item.id, d);
        for (size_t j = 0; j < m.cols; ++j) {
          buf += d;
          append_float(buf, v[j]);
        }
        buf += '\n';
      } else if (f == "projector") {
        std::string line;
        for (size_t j = 0; j < m.cols; ++j) {
          if (j) line += '\t';
          append_float(line, v[j]);
        }
        line += '\n';
        vecs_->write(line);
        write_meta(item);
      }
    }
    if (f == "f32") out_->write(m.data.data(), m.data.size() * sizeof(float));
    if (f == "npy") {
      if (std::fwrite(m.data.data(), sizeof(float), m.data.size(), spool_) != m.data.size())
        throw Error("cannot write the temporary .npy data");
      rows_ += m.rows;
      cols_ = m.cols;
    }
    if (!buf.empty()) out_->write(buf);
    if (out_) out_->flush();
  }

  void finish(size_t dim) {
    const std::string& f = a_.output.format;
    if (f == "projector") {
      vecs_->commit();
      meta_->commit();
      dir_->keep();
      return;
    }
    if (f == "npy") {
      out_->write(npy_header(rows_, rows_ ? cols_ : dim));
      std::rewind(spool_);
      std::vector<char> chunk(1 << 20);
      size_t n;
      while ((n = std::fread(chunk.data(), 1, chunk.size(), spool_)) > 0) out_->write(chunk.data(), n);
    }
    out_->commit();
  }

 private:
  static std::string tsv_clean(std::string s) {
    for (char& c : s)
      if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    return s;
  }
  void write_meta(const TextItem& item) {
    // The projector reads a single column without a header, several columns with one.
    bool multi = !a_.input.id_field.empty() || !a_.meta_columns.empty();
    std::string line;
    if (index_ == 0 && multi) {
      line += "text";
      if (!a_.input.id_field.empty()) line += "\tid";
      for (auto& c : a_.meta_columns) line += "\t" + tsv_clean(c);
      line += '\n';
    }
    line += tsv_clean(item.text);
    if (!a_.input.id_field.empty()) line += "\t" + tsv_clean(item.id);
    for (auto& c : a_.meta_columns) {
      line += "\t" + tsv_clean(item.value(c));
    }
    line += '\n';
    meta_->write(line);
  }

  const EmbedArgs& a_;
  std::unique_ptr<OutputDirectory> dir_;  // before the outputs: destroyed after them
  std::unique_ptr<AtomicOutput> out_, vecs_, meta_;
  std::FILE* spool_ = nullptr;
  size_t index_ = 0, rows_ = 0, cols_ = 0;
};

int run_embed(EmbedArgs& a) {
  set_quiet(a.quiet);
  EncoderOptions opts = a.model.encoder_options();
  a.vectors.apply(opts);
  opts.chunk = a.chunk;
  opts.chunk_overlap = a.chunk_overlap;

  bool per_window = a.chunk_output == "all";
  bool per_token = a.output_value == "token";
  if ((per_window || per_token) && a.output.format != "jsonl")
    throw Error("--chunk-output all and --output-value token write JSON Lines: use --format jsonl");
  if (per_window && per_token) throw Error("--chunk-output all and --output-value token are exclusive");

  auto t0 = std::chrono::steady_clock::now();
  auto encoder = SentenceEncoder::load(a.model.resolve(), opts);
  std::string prefix = a.prompt;
  if (!a.prompt_name.empty()) {
    auto p = encoder->prompt(a.prompt_name);
    if (!p) throw Error("the model defines no prompt named '" + a.prompt_name + "'");
    prefix = *p;
  }

  std::unique_ptr<EmbeddingWriter> writer;
  std::unique_ptr<AtomicOutput> raw;
  if (per_window || per_token) raw = std::make_unique<AtomicOutput>(a.output.path);
  else writer = std::make_unique<EmbeddingWriter>(a);
  EncodeStats total;
  size_t done = 0;
  Progress progress("embedding", 0);
  // Bounded chunks of input: read, embed, write, repeat.
  for_each_text_chunk(a.input, 4096, [&](std::vector<TextItem>& items) {
    std::vector<std::string> texts;
    texts.reserve(items.size());
    for (auto& it : items) texts.push_back(per_token ? prefix + it.text : it.text);
    EncodeStats stats;
    bool with_id = !a.input.id_field.empty();
    if (per_window) {
      write_chunks(*raw, items, done, encoder->encode_chunks(texts, &stats), with_id);
    } else if (per_token) {
      write_tokens(*raw, items, done, encoder->encode_tokens(texts, a.layer, &stats), with_id);
    } else {
      writer->write(items, prefix.empty() ? encoder->encode(texts, &stats)
                                          : encoder->encode_with_prompt(texts, prefix, &stats));
    }
    total.texts += stats.texts;
    total.tokens += stats.tokens;
    total.truncated += stats.truncated;
    done += items.size();
    progress.advance(items.size());
  });
  if (raw) raw->commit();
  else writer->finish(encoder->dimension());
  progress.finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char buf[160];
  std::snprintf(buf, sizeof buf, "embedded %zu texts (%zu tokens) in %.2f s", total.texts, total.tokens, secs);
  log(buf);
  if (total.truncated)
    log(std::to_string(total.truncated) + " text(s) longer than the maximum length were truncated"
        " (use --chunk to embed them whole)");
  return 0;
}

std::function<int()> setup_embed(CLI::App& app) {
  auto a = std::make_shared<EmbedArgs>();
  CLI::App* sub = app.add_subcommand("embed", "Embed texts: one vector per input text, in input order");
  a->input.add_to(sub);
  a->model.add_to(sub);
  a->output.add_to(sub, {"jsonl", "csv", "tsv", "npy", "f32", "projector"}, "jsonl");
  a->vectors.add_to(sub);
  sub->add_flag("--chunk", a->chunk, "Embed long texts whole: mean of windows of max-length tokens");
  sub->add_option("--chunk-overlap", a->chunk_overlap, "Tokens shared by consecutive windows");
  sub->add_option("--prompt", a->prompt, "Text prepended to every input");
  sub->add_option("--prompt-name", a->prompt_name, "A prompt defined by the model (e.g. query)");
  sub->add_option("--meta-column", a->meta_columns,
                  "projector: metadata columns/keys copied to meta.tsv (repeat or comma-separate; "
                  "e.g. the cluster column written by `sbert cluster`)")
      ->allow_extra_args(false)
      ->delimiter(',');
  sub->add_option("--chunk-output", a->chunk_output,
                  "With --chunk: mean (one vector per text) or all (every window with its token span)")
      ->check(CLI::IsMember({"mean", "all"}));
  sub->add_option("--output-value", a->output_value,
                  "sentence (pooled vectors) or token (per-token hidden states with tokens and offsets)")
      ->check(CLI::IsMember({"sentence", "token"}));
  sub->add_option("--layer", a->layer, "With --output-value token: hidden layer (-1 last, 0 embeddings)");
  sub->add_flag("-q,--quiet", a->quiet, "No log lines on stderr");
  return [a]() { return run_embed(*a); };
}

SBERT_COMMAND("embed", setup_embed);

}  // namespace
}  // namespace sbert::cli
