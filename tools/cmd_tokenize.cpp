// sbert tokenize: texts in, token ids (and tokens, offsets) out, one JSON line per text.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "sbert/error.h"
#include "sbert/model_folder.h"
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
  std::string offset_unit = "chars";
  size_t max_normalized_growth = 16;
};

int run(TokenizeArgs& a) {
  ModelOptions mo;
  mo.model = a.model;
  mo.offline = a.offline;
  const std::filesystem::path dir = mo.resolve();
  TokenizerOptions to;
  to.tokenizer_file = a.tokenizer_file;
  to.backend = parse_tokenizer_backend(a.tokenizer_backend);
  to.max_normalized_growth = a.max_normalized_growth;
  // sentence-transformers lower-cases the input when sentence_bert_config.json says so.
  if (model::read_do_lower_case(dir).value_or(false)) to.lowercase = true;
  auto tok = load_tokenizer(dir, to);
  const Truncation trunc = parse_truncation(a.truncation);
  const bool pair = !a.pair_column.empty();

  const OffsetUnit unit = parse_offset_unit(a.offset_unit);
  AtomicOutput out(a.output.path);
  TableWriter w(out, TableFormat::Jsonl);
  size_t index = 0;
  for_each_text_chunk(a.input, 1024, [&](std::vector<TextItem>& items) {
    for (const TextItem& item : items) {
      const std::string second = pair ? item.value(a.pair_column) : std::string();
      Encoding e = pair ? tok->encode_pair(item.text, second, a.max_length, trunc, !a.no_special)
                        : tok->encode(item.text, !a.no_special, a.max_length);
      Fields f;
      f.add("index", index++);
      if (!a.input.id_field.empty()) f.add("id", item.id);
      f.add_json("ids", e.ids);
      if (pair) f.add_json("type_ids", e.type_ids);
      f.add_strings("tokens", e.tokens);
      if (a.offsets) {
        nlohmann::json offsets = nlohmann::json::array();
        for (auto& [b, en] : offsets_in(e, item.text, unit, second)) offsets.push_back({b, en});
        f.add_json("offsets", offsets);
      }
      w.write(f);
    }
    w.flush();
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
  add_normalized_growth_option(sub, a->max_normalized_growth);
  sub->add_option("--max-length", a->max_length, "Truncate to N tokens including special tokens (default: no limit)");
  sub->add_flag("--no-special-tokens", a->no_special, "Do not add [CLS]/[SEP] (or <s>/</s>)");
  CLI::Option* offsets = add_offsets_option(sub, a->offset_unit, "Also write each token's offsets [begin, end) in the text");
  sub->add_option("--pair-column,--pair-field", a->pair_column,
                  "Encode (text, this column) as a pair; writes type_ids too");
  sub->add_option("--truncation", a->truncation, "Pair truncation: longest_first, only_first, only_second")
      ->capture_default_str();
  sub->add_flag("--offline", a->offline, "Never touch the network");
  a->output.add_to(sub, {"jsonl"}, "jsonl");
  return [a, offsets]() {
    a->offsets = offsets->count() > 0;
    return run(*a);
  };
}

SBERT_COMMAND("tokenize", setup);

}  // namespace
}  // namespace sbert::cli
