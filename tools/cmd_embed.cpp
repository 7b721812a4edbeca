// sbert embed: texts in, one vector per text out (jsonl, csv, tsv, npy, f32, projector).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli_common.h"
#include "command.h"
#include <nlohmann/json.hpp>

#include "sbert/embeddings_file.h"
#include "sbert/error.h"
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
  bool include_text = false;
  std::string offsets = "chars";
};

// JSON Lines for the per-window (--chunk-output all) and per-token (--output-value token) outputs.
void write_chunks(TableWriter& out, const std::vector<TextItem>& items, size_t first_index,
                  const std::vector<ChunkEmbedding>& chunks, bool with_id, bool with_text) {
  for (const auto& c : chunks) {
    Fields f;
    f.add("index", first_index + c.text);
    if (with_id) f.add("id", items[c.text].id);
    if (with_text) f.add("text", items[c.text].text);
    f.add("chunk", c.chunk).add("token_start", c.token_begin).add("token_end", c.token_end);
    f.add_floats("embedding", c.vector);
    out.write(f);
  }
  out.flush();
}

void write_tokens(TableWriter& out, const std::vector<TextItem>& items, const std::vector<std::string>& texts,
                  size_t first_index, const std::vector<TokenEmbeddings>& toks, bool with_id, bool with_text,
                  OffsetUnit unit) {
  for (size_t i = 0; i < toks.size(); ++i) {
    const auto& t = toks[i];
    Fields f;
    f.add("index", first_index + i);
    if (with_id) f.add("id", items[i].id);
    if (with_text) f.add("text", items[i].text);
    nlohmann::json offsets = nlohmann::json::array();
    for (auto& [b, e] : offsets_in(t.encoding, texts[i], unit)) offsets.push_back({b, e});
    f.add_json("ids", t.encoding.ids).add_strings("tokens", t.encoding.tokens).add_json("offsets", offsets);
    f.add_float_rows("embeddings", t.vectors.data.data(), t.vectors.rows, t.vectors.cols);
    out.write(f);
  }
  out.flush();
}

int run_embed(EmbedArgs& a, const CLI::App* command) {
  EncoderOptions opts = a.model.encoder_options();
  a.vectors.apply(opts);
  opts.chunk = a.chunk;
  opts.chunk_overlap = a.chunk_overlap;

  const bool per_window = a.chunk_output == "all";
  const bool per_token = a.output_value == "token";
  const std::string format = a.output.format_or("jsonl");
  if ((per_window || per_token) && format != "jsonl")
    throw Error("--chunk-output all and --output-value token write JSON Lines: use --format jsonl");
  if (per_window && per_token) throw Error("--chunk-output all and --output-value token are exclusive");
  const OffsetUnit unit = parse_offset_unit(a.offsets);
  const bool with_id = !a.input.id_field.empty();
  require_shard_output(a.input, a.output.path);

  RunSummary summary;
  const std::string model_path = a.model.label();
  auto encoder = a.model.open_encoder(opts);
  summary.model_ready();
  const std::string prefix = resolve_prompt(*encoder, a.prompt, a.prompt_name);

  std::unique_ptr<EmbeddingWriter> writer;
  std::unique_ptr<AtomicOutput> raw;
  std::unique_ptr<TableWriter> table;
  if (per_window || per_token) {
    raw = std::make_unique<AtomicOutput>(a.output.path);
    table = std::make_unique<TableWriter>(*raw, TableFormat::Jsonl);
  } else {
    EmbeddingWriterOptions wo;
    wo.format = parse_embedding_format(format);
    wo.path = a.output.path;
    wo.with_id = with_id;
    wo.with_text = a.include_text;
    wo.meta_columns = a.meta_columns;
    writer = std::make_unique<EmbeddingWriter>(wo);
  }
  size_t done = 0, rows = 0;
  bool first_chunk = true;
  Progress progress("embedding", 0);
  // On a terminal: done/total (when the input is files), the rate and the time left, updated
  // about every second: chunks sized to the measured rate (a text's vector does not depend on its
  // chunk; in client mode the chunks stay the server's request size).
  std::function<size_t()> chunk_size;
  if (progress.enabled()) {
    if (auto total = count_texts(a.input)) progress.set_total(*total);
    if (!a.model.remote())
      chunk_size = [&progress] {
        const double r = progress.rate();
        return r > 0 ? std::clamp<size_t>(static_cast<size_t>(r), 32, 4096) : size_t{64};
      };
  }
  // Bounded chunks of input: read, embed, write, repeat.
  for_each_text_chunk(a.input, 4096, [&](std::vector<TextItem>& items) {
    if (first_chunk) {  // a shard's indices continue the whole input's
      done = items.front().index;
      if (writer) writer->set_first_index(done);
      first_chunk = false;
    }
    std::vector<std::string> texts;
    texts.reserve(items.size());
    for (auto& it : items) texts.push_back(per_token ? prefix + it.text : it.text);
    EncodeStats stats;
    if (per_window) {
      write_chunks(*table, items, done, encoder->encode_chunks(texts, &stats), with_id, a.include_text);
    } else if (per_token) {
      write_tokens(*table, items, texts, done, encoder->encode_tokens(texts, a.layer, &stats), with_id,
                   a.include_text, unit);
    } else {
      Matrix m = prefix.empty() ? encoder->encode(texts, &stats) : encoder->encode_with_prompt(texts, prefix, &stats);
      std::vector<EmbeddingLabels> labels(items.size());
      for (size_t i = 0; i < items.size(); ++i) {
        labels[i].id = items[i].id;
        labels[i].text = items[i].text;
        for (auto& c : a.meta_columns) labels[i].meta.push_back(items[i].value(c));
      }
      writer->write(m, labels);
    }
    summary.count(stats.texts, stats.tokens, stats.truncated);
    done += items.size();
    rows += items.size();
    progress.advance(items.size());
  }, chunk_size);
  if (raw) {
    table->flush();
    raw->commit();
  } else {
    writer->finish(encoder->dimension());
  }
  write_shard_manifest(a.input, a.output.path, format, rows, command, model_path);
  progress.finish();
  summary.log_done("embedded " + count_of(summary.items(), "text"), "text(s)", " (use --chunk to embed them whole)");
  return 0;
}

std::function<int()> setup_embed(CLI::App& app) {
  auto a = std::make_shared<EmbedArgs>();
  CLI::App* sub = app.add_subcommand("embed", "Embed texts: one vector per input text, in input order");
  a->input.add_to(sub);
  a->input.add_shard_options(sub);
  a->model.add_to(sub);
  a->model.add_server_to(sub);
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
  sub->add_flag("--include-text", a->include_text, "Write each input text beside its vector (jsonl/csv/tsv)");
  add_offsets_option(sub, a->offsets, "With --output-value token: the unit of each token's offsets");
  return [a, sub]() { return run_embed(*a, sub); };
}

SBERT_COMMAND("embed", setup_embed);

}  // namespace
}  // namespace sbert::cli
