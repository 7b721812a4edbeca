// sbert words: contextual word vectors. Each sentence's token hidden states (last layer or
// --layer N) are grouped into words (mean of the pieces); output the words with their character
// spans and vectors, the cosine between repeated words (--same-word), or all word pairs (--matrix).
#include "cli_common.h"
#include "command.h"
#include "sbert/error.h"
#include "sbert/output_file.h"
#include "sbert/similarity.h"
#include "sbert/words.h"

namespace sbert::cli {
namespace {

struct WordsArgs {
  InputOptions input;
  ModelOptions model;
  std::string output;
  int layer = -1;
  bool same_word = false;
  std::vector<std::string> targets;
  bool matrix = false;
  bool no_vectors = false;
  std::string offset_unit = "chars";
};

// [begin, end) of a word in the chosen unit.
std::vector<size_t> span(const Word& w, OffsetUnit unit) {
  return unit == OffsetUnit::Bytes ? std::vector<size_t>{w.byte_begin, w.byte_end}
                                   : std::vector<size_t>{w.char_begin, w.char_end};
}

int run_words(WordsArgs& a, const CLI::App* command) {
  if (a.same_word && a.matrix) throw Error("--same-word and --matrix are exclusive");
  if (!a.targets.empty()) a.same_word = true;
  const OffsetUnit unit = parse_offset_unit(a.offset_unit);
  RunSummary summary;
  require_shard_output(a.input, a.output);
  const std::string model_path = a.model.resolve().string();
  auto encoder = SentenceEncoder::load(model_path, a.model.encoder_options());
  summary.model_ready();
  AtomicOutput out(a.output);
  TableWriter w(out, TableFormat::Jsonl);
  size_t index = 0, total_words = 0;
  for_each_text_chunk(a.input, 256, [&](std::vector<TextItem>& items) {
    std::vector<std::string> texts;
    for (auto& it : items) texts.push_back(it.text);
    EncodeStats stats;
    std::vector<TokenEmbeddings> tokens = encoder->encode_tokens(texts, a.layer, &stats);
    summary.count(stats.texts, stats.tokens, stats.truncated);
    for (size_t s = 0; s < items.size(); ++s, ++index) {
      const Encoding& enc = tokens[s].encoding;
      std::vector<Word> words = group_words(texts[s], enc);
      Matrix vectors = word_vectors(words, tokens[s].vectors);
      total_words += words.size();
      Fields f;
      f.add("index", items[s].index);
      if (!a.input.id_field.empty()) f.add("id", items[s].id);
      f.add("text", texts[s]);
      std::string list = "[";
      if (a.same_word) {
        auto pairs = same_word_pairs(words, vectors, a.targets);
        for (size_t p = 0; p < pairs.size(); ++p) {
          const Word& x = words[pairs[p].a];
          const Word& y = words[pairs[p].b];
          Fields pf;
          pf.add("word", pairs[p].key).add("a", pairs[p].a).add("b", pairs[p].b);
          pf.add("a_text", x.text).add("b_text", y.text);
          pf.add_json("a_span", span(x, unit)).add_json("b_span", span(y, unit)).add("cosine", pairs[p].cosine);
          if (p) list += ", ";
          pf.append_json(list);
        }
        f.add_raw_json("pairs", list + "]");
      } else if (a.matrix) {
        std::vector<std::string> names;
        for (const auto& word : words) names.push_back(word.text);
        Matrix m = similarity_matrix(vectors, vectors, SimilarityFunction::Cosine);
        f.add_strings("words", names).add_float_rows("matrix", m.data.data(), m.rows, m.cols);
      } else {
        for (size_t i = 0; i < words.size(); ++i) {
          const Word& word = words[i];
          Fields wf;
          auto sp = span(word, unit);
          wf.add("word", word.text).add("start", sp[0]).add("end", sp[1]);
          wf.add_strings("tokens", std::vector<std::string>(enc.tokens.begin() + word.token_begin,
                                                            enc.tokens.begin() + word.token_end));
          if (!a.no_vectors) wf.add_floats("vector", vectors.row(i), vectors.cols);
          if (i) list += ", ";
          wf.append_json(list);
        }
        f.add_raw_json("words", list + "]");
      }
      w.write(f);
    }
    w.flush();
  });
  out.commit();
  write_shard_manifest(a.input, a.output, "jsonl", index, command, model_path);
  summary.log_done(count_of(index, "sentence") + ", " + count_of(total_words, "word"), "sentence(s)");
  return 0;
}

std::function<int()> setup_words(CLI::App& app) {
  auto a = std::make_shared<WordsArgs>();
  CLI::App* sub = app.add_subcommand(
      "words", "Contextual word vectors: token hidden states grouped into words (mean of the pieces)");
  a->input.add_to(sub);
  a->input.add_shard_options(sub);
  a->model.add_to(sub);
  sub->add_option("-o,--output", a->output, "Output file (default: standard output); JSON Lines, one sentence per line");
  sub->add_option("--layer", a->layer,
                  "Hidden layer: -1 last (default), -2 the one before, ...; 0 embeddings, 1..N layer outputs")
      ->capture_default_str();
  sub->add_flag("--same-word", a->same_word,
                "Cosine between every two occurrences of the same word in a sentence (case and "
                "edge punctuation ignored)");
  sub->add_option("--word", a->targets,
                  "With --same-word: compare the occurrences of this word, counting words that start "
                  "with it (Korean 배를/배가 for 배); repeatable");
  sub->add_flag("--matrix", a->matrix, "Cosine between all word pairs of each sentence");
  sub->add_flag("--no-vectors", a->no_vectors, "Words and spans only, without vectors");
  add_offsets_option(sub, a->offset_unit, "The unit of word spans");
  return [a, sub]() { return run_words(*a, sub); };
}

SBERT_COMMAND("words", setup_words);

}  // namespace
}  // namespace sbert::cli
