// Unigram language model (sentencepiece "unigram", as the Hugging Face Unigram model runs it):
// Viterbi over every vocabulary piece that matches at each byte position, scored by the piece
// log-probabilities; a character no piece covers becomes an unknown node scored
// min_score - 10, and consecutive unknowns are fused into one token.
#include <algorithm>
#include <cstdio>
#include <limits>

#include "sbert/error.h"
#include "tokenizer/pipeline.h"

namespace sbert::tok {

namespace {

constexpr double kUnkPenalty = 10.0;

// A byte trie; children are kept as sorted (byte, node) edges.
class ByteTrie {
 public:
  ByteTrie() : nodes_(1) {}
  void insert(std::string_view key, int64_t value) {
    size_t n = 0;
    for (char ch : key) {
      const auto c = static_cast<uint8_t>(ch);
      auto& edges = nodes_[n].edges;
      auto it = std::lower_bound(edges.begin(), edges.end(), std::make_pair(c, size_t{0}),
                                 [](const auto& a, const auto& b) { return a.first < b.first; });
      if (it != edges.end() && it->first == c) {
        n = it->second;
      } else {
        const size_t child = nodes_.size();
        edges.insert(it, {c, child});
        nodes_.emplace_back();
        n = child;
      }
    }
    if (nodes_[n].value < 0) nodes_[n].value = value;  // the first piece with this text wins
  }
  // Calls f(length, value) for every key that is a prefix of s, shortest first.
  template <typename F>
  void prefixes(std::string_view s, F f) const {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<uint8_t>(s[i]);
      const auto& edges = nodes_[n].edges;
      auto it = std::lower_bound(edges.begin(), edges.end(), std::make_pair(c, size_t{0}),
                                 [](const auto& a, const auto& b) { return a.first < b.first; });
      if (it == edges.end() || it->first != c) return;
      n = it->second;
      if (nodes_[n].value >= 0) f(i + 1, nodes_[n].value);
    }
  }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, size_t>> edges;
    int64_t value = -1;
  };
  std::vector<Node> nodes_;
};

size_t utf8_len(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  return 4;
}

class UnigramModel : public Model {
 public:
  UnigramModel(std::vector<UnigramPiece> pieces, std::optional<int64_t> unk_id, bool byte_fallback)
      : pieces_(std::move(pieces)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
    min_score_ = std::numeric_limits<double>::infinity();
    ids_.reserve(pieces_.size() * 2);
    for (size_t i = 0; i < pieces_.size(); ++i) {
      ids_.emplace(pieces_[i].piece, static_cast<int64_t>(i));
      if (!pieces_[i].piece.empty()) trie_.insert(pieces_[i].piece, static_cast<int64_t>(i));
      min_score_ = std::min(min_score_, pieces_[i].score);
    }
  }

  void tokenize(const CharSeq& word, std::vector<Token>& out) const override {
    if (word.empty()) return;
    std::string text;
    std::vector<uint32_t> char_of_byte;  // which character each byte belongs to
    for (size_t i = 0; i < word.size(); ++i) {
      const size_t before = text.size();
      append_utf8(text, word[i].cp);
      char_of_byte.insert(char_of_byte.end(), text.size() - before, static_cast<uint32_t>(i));
    }
    const size_t n = text.size();
    struct Best {
      double score = 0;
      int64_t start = -1;
      int64_t id = -1;
    };
    std::vector<Best> best(n + 1);
    best[0].start = 0;
    const double unk_score = min_score_ - kUnkPenalty;
    for (size_t s = 0; s < n;) {
      const double base = best[s].score;
      const size_t mblen = std::min(utf8_len(static_cast<unsigned char>(text[s])), n - s);
      bool single = false;
      trie_.prefixes(std::string_view(text).substr(s), [&](size_t len, int64_t id) {
        Best& t = best[s + len];
        const double cand = base + pieces_[static_cast<size_t>(id)].score;
        if (t.start < 0 || cand > t.score) t = {cand, static_cast<int64_t>(s), id};
        if (len == mblen) single = true;
      });
      if (!single) {
        if (!unk_id_) throw Error("Unigram: text has a character no piece covers and the model has no unk_id");
        Best& t = best[s + mblen];
        const double cand = base + unk_score;
        if (t.start < 0 || cand > t.score) t = {cand, static_cast<int64_t>(s), *unk_id_};
      }
      s += mblen;
    }
    // Walk back the best path, fusing runs of unknowns.
    struct Span {
      size_t b, e;
      int64_t id;
    };
    std::vector<Span> spans;
    for (size_t e = n; e > 0;) {
      const Best& node = best[e];
      const auto b = static_cast<size_t>(node.start);
      if (unk_id_ && node.id == *unk_id_ && !spans.empty() && spans.back().id == *unk_id_ &&
          spans.back().b == e)
        spans.back().b = b;
      else
        spans.push_back({b, e, node.id});
      e = b;
    }
    std::reverse(spans.begin(), spans.end());
    for (const Span& sp : spans) {
      const uint32_t ob = word[char_of_byte[sp.b]].begin;
      const uint32_t oe = word[char_of_byte[sp.e - 1]].end;
      std::string piece = text.substr(sp.b, sp.e - sp.b);
      auto it = ids_.find(piece);
      if (it != ids_.end()) {
        out.push_back({it->second, std::move(piece), ob, oe});
        continue;
      }
      if (byte_fallback_) {
        std::vector<Token> bytes;
        bool ok = true;
        for (char ch : piece) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned char>(ch));
          auto b = ids_.find(name);
          if (b == ids_.end()) {
            ok = false;
            break;
          }
          bytes.push_back({b->second, name, ob, oe});
        }
        if (ok) {
          out.insert(out.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      if (!unk_id_) throw Error("Unigram: unknown piece and the model has no unk_id");
      out.push_back({*unk_id_, std::move(piece), ob, oe});
    }
  }

  std::optional<int64_t> token_to_id(std::string_view token) const override {
    auto it = ids_.find(std::string(token));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  std::string id_to_token(int64_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return {};
    return pieces_[static_cast<size_t>(id)].piece;
  }
  size_t vocab_size() const override { return pieces_.size(); }
  std::string name() const override { return "Unigram"; }

 private:
  std::vector<UnigramPiece> pieces_;
  std::unordered_map<std::string, int64_t> ids_;
  ByteTrie trie_;
  std::optional<int64_t> unk_id_;
  bool byte_fallback_;
  double min_score_;
};

}  // namespace

ModelPtr make_unigram_model(std::vector<UnigramPiece> pieces, std::optional<int64_t> unk_id,
                            bool byte_fallback) {
  return std::make_unique<UnigramModel>(std::move(pieces), unk_id, byte_fallback);
}

}  // namespace sbert::tok
