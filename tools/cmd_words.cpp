// sbert words: contextual word vectors. Each sentence's token hidden states (last layer or
// --layer N) are grouped into words (mean of the pieces); output the words with their character
// spans and vectors, the cosine between repeated words (--same-word), or all word pairs (--matrix).
#include <chrono>

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
  bool quiet = false;
};

void append_vector(std::string& buf, const float* v, size_t n) {
  buf += '[';
  for (size_t d = 0; d < n; ++d) {
    if (d) buf += ", ";
    append_float(buf, v[d]);
  }
  buf += ']';
}

void append_word(std::string& buf, const Word& w, const Encoding& enc) {
  buf += "{\"word\": " + json_quote(w.text) + ", \"start\": " + std::to_string(w.char_begin) +
         ", \"end\": " + std::to_string(w.char_end) + ", \"tokens\": [";
  for (size_t t = w.token_begin; t < w.token_end; ++t) {
    if (t > w.token_begin) buf += ", ";
    buf += json_quote(enc.tokens[t]);
  }
  buf += "]";
}

int run_words(WordsArgs& a) {
  set_quiet(a.quiet);
  if (a.same_word && a.matrix) throw Error("--same-word and --matrix are exclusive");
  if (!a.targets.empty()) a.same_word = true;
  auto t0 = std::chrono::steady_clock::now();
  auto encoder = SentenceEncoder::load(a.model.resolve(), a.model.encoder_options());
  AtomicOutput out(a.output);
  size_t index = 0, total_words = 0, truncated = 0;
  for_each_text_chunk(a.input, 256, [&](std::vector<TextItem>& items) {
    std::vector<std::string> texts;
    for (auto& it : items) texts.push_back(it.text);
    EncodeStats stats;
    std::vector<TokenEmbeddings> tokens = encoder->encode_tokens(texts, a.layer, &stats);
    truncated += stats.truncated;
    std::string buf;
    for (size_t s = 0; s < items.size(); ++s, ++index) {
      const Encoding& enc = tokens[s].encoding;
      std::vector<Word> words = group_words(texts[s], enc);
      Matrix vectors = word_vectors(words, tokens[s].vectors);
      total_words += words.size();
      buf += "{\"index\": " + std::to_string(index);
      if (!a.input.id_field.empty()) buf += ", \"id\": " + json_quote(items[s].id);
      buf += ", \"text\": " + json_quote(texts[s]);
      if (a.same_word) {
        buf += ", \"pairs\": [";
        auto pairs = same_word_pairs(words, vectors, a.targets);
        for (size_t p = 0; p < pairs.size(); ++p) {
          const Word& x = words[pairs[p].a];
          const Word& y = words[pairs[p].b];
          if (p) buf += ", ";
          buf += "{\"word\": " + json_quote(pairs[p].key) + ", \"a\": " + std::to_string(pairs[p].a) +
                 ", \"b\": " + std::to_string(pairs[p].b) + ", \"a_text\": " + json_quote(x.text) +
                 ", \"b_text\": " + json_quote(y.text) + ", \"a_span\": [" + std::to_string(x.char_begin) +
                 ", " + std::to_string(x.char_end) + "], \"b_span\": [" + std::to_string(y.char_begin) +
                 ", " + std::to_string(y.char_end) + "], \"cosine\": ";
          append_float(buf, pairs[p].cosine);
          buf += "}";
        }
        buf += "]}\n";
      } else if (a.matrix) {
        buf += ", \"words\": [";
        for (size_t w = 0; w < words.size(); ++w) buf += (w ? ", " : "") + json_quote(words[w].text);
        buf += "], \"matrix\": [";
        Matrix m = similarity_matrix(vectors, vectors, SimilarityFunction::Cosine);
        for (size_t i = 0; i < m.rows; ++i) {
          if (i) buf += ", ";
          append_vector(buf, m.row(i), m.cols);
        }
        buf += "]}\n";
      } else {
        buf += ", \"words\": [";
        for (size_t w = 0; w < words.size(); ++w) {
          if (w) buf += ", ";
          append_word(buf, words[w], enc);
          if (!a.no_vectors) {
            buf += ", \"vector\": ";
            append_vector(buf, vectors.row(w), vectors.cols);
          }
          buf += "}";
        }
        buf += "]}\n";
      }
    }
    out.write(buf);
    out.flush();
  });
  out.commit();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char line[160];
  std::snprintf(line, sizeof line, "%zu sentences, %zu words in %.2f s", index, total_words, secs);
  log(line);
  if (truncated) log(std::to_string(truncated) + " sentence(s) were truncated to the model's maximum length");
  return 0;
}

std::function<int()> setup_words(CLI::App& app) {
  auto a = std::make_shared<WordsArgs>();
  CLI::App* sub = app.add_subcommand(
      "words", "Contextual word vectors: token hidden states grouped into words (mean of the pieces)");
  a->input.add_to(sub);
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
  sub->add_flag("-q,--quiet", a->quiet, "No log lines on stderr");
  return [a]() { return run_words(*a); };
}

SBERT_COMMAND("words", setup_words);

}  // namespace
}  // namespace sbert::cli
