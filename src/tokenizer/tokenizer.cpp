// Tokenizer::encode / encode_pair (truncation with Hugging Face semantics) and the
// load_tokenizer factory that picks a tokenizer from the files of a model folder.
#include "sbert/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "sbert/error.h"
#include "sbert/model_folder.h"
#include "tokenizer/factory.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

void truncate_to(Encoding& e, size_t n) {
  if (e.ids.size() <= n) return;
  e.ids.resize(n);
  if (e.type_ids.size() > n) e.type_ids.resize(n);
  if (e.tokens.size() > n) e.tokens.resize(n);
  if (e.offsets.size() > n) e.offsets.resize(n);
  if (e.special_mask.size() > n) e.special_mask.resize(n);
  if (e.sequence_ids.size() > n) e.sequence_ids.resize(n);
}

void set_sequence(Encoding& e, int8_t seq) {
  e.type_ids.assign(e.ids.size(), seq);
  e.sequence_ids.assign(e.ids.size(), seq);
  if (e.special_mask.size() != e.ids.size()) e.special_mask.assign(e.ids.size(), 0);
}

}  // namespace

Encoding Tokenizer::encode(std::string_view text, bool add_special, size_t max_length) const {
  Encoding e = encode_plain(text);
  if (max_length > 0) {
    const size_t extra = add_special ? num_special_tokens(false) : 0;
    truncate_to(e, max_length > extra ? max_length - extra : 0);
  }
  return add_special ? add_special_tokens(e, nullptr) : e;
}

Encoding Tokenizer::encode_pair(std::string_view first, std::string_view second, size_t max_length,
                                Truncation truncation, bool add_special) const {
  Encoding a = encode_plain(first);
  Encoding b = encode_plain(second);
  set_sequence(a, 0);
  set_sequence(b, 1);
  if (max_length > 0) {
    const size_t extra = add_special ? num_special_tokens(true) : 0;
    const size_t room = max_length > extra ? max_length - extra : 0;
    const size_t total = a.size() + b.size();
    if (total > room) {
      const size_t to_remove = total - room;
      if (truncation == Truncation::LongestFirst) {
        // The tokenizers library: the shorter side keeps its length when the longer one can
        // absorb the cut, else room is split in halves (the extra odd token to the longer side).
        size_t n1 = a.size(), n2 = b.size();
        const bool swap = n1 > n2;
        if (swap) std::swap(n1, n2);
        n2 = n1 > room ? n1 : std::max(n1, room - n1);
        if (n1 + n2 > room) {
          n1 = room / 2;
          n2 = n1 + room % 2;
        }
        if (swap) std::swap(n1, n2);
        truncate_to(a, n1);
        truncate_to(b, n2);
      } else {
        Encoding& target = truncation == Truncation::OnlyFirst ? a : b;
        const char* which = truncation == Truncation::OnlyFirst ? "first" : "second";
        if (target.size() <= to_remove)
          throw Error(std::string("truncation only_") + which + ": the " + which + " text has " +
                      std::to_string(target.size()) + " tokens but " + std::to_string(to_remove) +
                      " must be removed to fit max_length " + std::to_string(max_length));
        truncate_to(target, target.size() - to_remove);
      }
    }
  }
  if (add_special) return add_special_tokens(a, &b);
  Encoding out = a;
  out.ids.insert(out.ids.end(), b.ids.begin(), b.ids.end());
  out.type_ids.insert(out.type_ids.end(), b.type_ids.begin(), b.type_ids.end());
  out.tokens.insert(out.tokens.end(), b.tokens.begin(), b.tokens.end());
  out.offsets.insert(out.offsets.end(), b.offsets.begin(), b.offsets.end());
  out.special_mask.insert(out.special_mask.end(), b.special_mask.begin(), b.special_mask.end());
  out.sequence_ids.insert(out.sequence_ids.end(), b.sequence_ids.begin(), b.sequence_ids.end());
  return out;
}

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& model_dir, const TokenizerOptions& options) {
  if (!options.tokenizer_file.empty()) {
    fs::path f = options.tokenizer_file;
    if (!fs::exists(f) && fs::exists(model_dir / f)) f = model_dir / f;
    if (!fs::is_regular_file(f)) throw Error(f.string() + ": tokenizer file not found");
    // A bare name ("spm.model") has an empty parent: its folder is the current one.
    const fs::path dir = f.parent_path().empty() ? fs::path(".") : f.parent_path();
    return tok::load_tokenizer_file(f, dir, options);
  }
  if (!fs::is_directory(model_dir)) throw Error(model_dir.string() + ": model folder not found");
  if (auto f = model::find_model_tokenizer(model_dir, options.backend == TokenizerBackend::SentencePiece))
    return tok::load_tokenizer_file(*f, f->parent_path(), options);
  if (options.backend == TokenizerBackend::SentencePiece)
    throw Error(model_dir.string() +
                ": tokenizer backend 'sentencepiece': no *.model file in the folder or in 0_Transformer/");
  throw Error(model_dir.string() +
              ": no tokenizer found (looked for tokenizer.json, *.model, vocab.txt in the folder and "
              "in 0_Transformer/)");
}

Truncation parse_truncation(const std::string& s) {
  if (s == "only_first") return Truncation::OnlyFirst;
  if (s == "longest_first") return Truncation::LongestFirst;
  if (s == "only_second") return Truncation::OnlySecond;
  throw Error("--truncation must be only_first, longest_first or only_second, got '" + s + "'");
}

OffsetUnit parse_offset_unit(const std::string& name) {
  if (name == "chars" || name == "codepoints" || name == "characters") return OffsetUnit::CodePoints;
  if (name == "bytes") return OffsetUnit::Bytes;
  throw Error("offset unit must be chars or bytes, got '" + name + "'");
}

namespace {
// Code-point index of every byte position of `text` (positions inside a character map to the
// character's start; text.size() maps to the number of code points).
std::vector<size_t> char_index(std::string_view text) {
  std::vector<size_t> idx(text.size() + 1);
  size_t starts = 0;
  for (size_t b = 0; b < text.size(); ++b) {
    const bool start = (static_cast<unsigned char>(text[b]) & 0xC0) != 0x80;
    idx[b] = start ? starts : (starts ? starts - 1 : 0);
    starts += start;
  }
  idx[text.size()] = starts;
  return idx;
}
}  // namespace

std::vector<std::pair<size_t, size_t>> offsets_in(const Encoding& encoding, std::string_view first,
                                                  OffsetUnit unit, std::string_view second) {
  if (unit == OffsetUnit::Bytes) return encoding.offsets;
  const auto a = char_index(first);
  const auto b = second.empty() ? std::vector<size_t>{0} : char_index(second);
  std::vector<std::pair<size_t, size_t>> out(encoding.offsets.size());
  for (size_t i = 0; i < encoding.offsets.size(); ++i) {
    const bool in_second = i < encoding.sequence_ids.size() && encoding.sequence_ids[i] == 1;
    const auto& map = in_second ? b : a;
    auto [s, e] = encoding.offsets[i];
    s = std::min(s, map.size() - 1);
    e = std::min(e, map.size() - 1);
    out[i] = {map[s], map[e]};
  }
  return out;
}

TokenizerBackend parse_tokenizer_backend(std::string_view name) {
  if (name == "auto") return TokenizerBackend::Auto;
  if (name == "sentencepiece") return TokenizerBackend::SentencePiece;
  throw Error("tokenizer backend '" + std::string(name) + "': expected auto or sentencepiece");
}

}  // namespace sbert
