// sbert tokenize: texts in, token ids (and tokens, offsets) out, one JSON line per text.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "sbert/error.h"
#include "sbert/output_file.h"
#include "sbert/tokenizer.h"

namespace sbert::cli {
namespace {

struct TokenizeArgs {
  InputOptions input;
  OutputOptions output;
  std::string model;
  std::string tokenizer_file;
  std::string tokenizer_backend = "auto";
  size_t max_length = 0;
  bool no_special = false;
  bool offsets = false;
  std::string pair_column;
  std::string truncation = "longest_first";
  bool offline = false;
  bool quiet = false;
};

// sentence-transformers lower-cases the input when sentence_bert_config.json says so.
std::optional<bool> st_lowercase(const std::filesystem::path& dir) {
  for (const auto& p : {dir / "sentence_bert_config.json", dir / "0_Transformer" / "sentence_bert_config.json"}) {
    std::ifstream in(p);
    if (!in) continue;
    try {
      auto j = nlohmann::json::parse(in);
      if (j.is_object() && j.contains("do_lower_case") && j["do_lower_case"].is_boolean() &&
          j["do_lower_case"].get<bool>())
        return true;
    } catch (const nlohmann::json::exception&) {
      throw Error(p.string() + ": malformed JSON");
    }
    return std::nullopt;
  }
  return std::nullopt;
}

Truncation parse_truncation(const std::string& s) {
  if (s == "longest_first") return Truncation::LongestFirst;
  if (s == "only_first") return Truncation::OnlyFirst;
  if (s == "only_second") return Truncation::OnlySecond;
  throw Error("--truncation must be longest_first, only_first or only_second, got '" + s + "'");
}

void append_ints(std::string& out, const std::vector<int64_t>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(v[i]);
  }
  out += ']';
}

int run(TokenizeArgs& a) {
  set_quiet(a.quiet);
  ModelOptions mo;
  mo.model = a.model;
  mo.offline = a.offline;
  const std::filesystem::path dir = mo.resolve();
  TokenizerOptions to;
  to.tokenizer_file = a.tokenizer_file;
  to.backend = parse_tokenizer_backend(a.tokenizer_backend);
  to.lowercase = st_lowercase(dir);
  auto tok = load_tokenizer(dir, to);
  const Truncation trunc = parse_truncation(a.truncation);
  const bool pair = !a.pair_column.empty();

  AtomicOutput out(a.output.path);
  size_t index = 0;
  for_each_text_chunk(a.input, 1024, [&](std::vector<TextItem>& items) {
    std::string buf;
    for (const TextItem& item : items) {
      Encoding e = pair ? tok->encode_pair(item.text, item.value(a.pair_column), a.max_length, trunc, !a.no_special)
                        : tok->encode(item.text, !a.no_special, a.max_length);
      buf += "{\"index\": " + std::to_string(index++);
      if (!a.input.id_field.empty()) buf += ", \"id\": " + json_quote(item.id);
      buf += ", \"ids\": ";
      append_ints(buf, e.ids);
      if (pair) {
        buf += ", \"type_ids\": ";
        append_ints(buf, e.type_ids);
      }
      buf += ", \"tokens\": [";
      for (size_t i = 0; i < e.tokens.size(); ++i) {
        if (i) buf += ", ";
        buf += json_quote(e.tokens[i]);
      }
      buf += ']';
      if (a.offsets) {
        buf += ", \"offsets\": [";
        for (size_t i = 0; i < e.offsets.size(); ++i) {
          if (i) buf += ", ";
          buf += '[' + std::to_string(e.offsets[i].first) + ", " + std::to_string(e.offsets[i].second) + ']';
        }
        buf += ']';
      }
      buf += "}\n";
    }
    out.write(buf);
    out.flush();
  });
  out.commit();
  return 0;
}

std::function<int()> setup(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand("tokenize", "Token ids of texts under a model's tokenizer (JSON lines)");
  a->input.add_to(sub);
  sub->add_option("-m,--model", a->model,
                  "Model folder or Hugging Face name (default: $SBERT_MODEL or sentence-transformers/all-MiniLM-L6-v2)");
  sub->add_option("--tokenizer-file", a->tokenizer_file, "Use this tokenizer file (tokenizer.json, *.model, vocab.txt)");
  sub->add_option("--tokenizer-backend", a->tokenizer_backend,
                  "auto (as the reference) or sentencepiece (libsentencepiece on the folder's *.model)")
      ->check(CLI::IsMember({"auto", "sentencepiece"}))
      ->capture_default_str();
  sub->add_option("--max-length", a->max_length, "Truncate to N tokens including special tokens (default: no limit)");
  sub->add_flag("--no-special-tokens", a->no_special, "Do not add [CLS]/[SEP] (or <s>/</s>)");
  sub->add_flag("--offsets", a->offsets, "Also write byte offsets [begin, end) into the text");
  sub->add_option("--pair-column,--pair-field", a->pair_column,
                  "Encode (text, this column) as a pair; writes type_ids too");
  sub->add_option("--truncation", a->truncation, "Pair truncation: longest_first, only_first, only_second")
      ->capture_default_str();
  sub->add_flag("--offline", a->offline, "Never touch the network");
  sub->add_flag("-q,--quiet", a->quiet, "No messages on stderr");
  a->output.add_to(sub, {"jsonl"}, "jsonl");
  return [a]() { return run(*a); };
}

SBERT_COMMAND("tokenize", setup);

}  // namespace
}  // namespace sbert::cli
