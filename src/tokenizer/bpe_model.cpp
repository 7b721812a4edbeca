// Byte-pair encoding with the semantics of the Hugging Face BPE model (no dropout): a word
// starts as one symbol per character (its <0xXX> bytes under byte_fallback, an unknown token
// otherwise), then the adjacent pair of lowest merge rank is merged, leftmost first, until no
// pair has a merge. Symbols are a linked list and candidate pairs a priority queue, so a word
// of n characters costs O(n log n).
#include <algorithm>
#include <cstdio>
#include <queue>

#include "sbert/error.h"
#include "tokenizer/pipeline.h"

namespace sbert::tok {

namespace {

constexpr size_t kMaxVocabId = 50'000'000;
constexpr char32_t kFastChars = 0x10000;  // single-character tokens below this: a table lookup

struct Merge {
  uint32_t rank;
  uint32_t new_id;
};

uint64_t pair_key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }

// Token pair -> merge, open addressing with linear probing (the lookup of every candidate pair:
// one probe into a flat table instead of a node-based map's chain).
class PairTable {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    shift_ = 60;
    while (cap < 2 * n) cap <<= 1, --shift_;
    slots_.assign(cap, Slot{kEmpty, {}});
    mask_ = cap - 1;
  }
  void set(uint64_t key, Merge m) {  // overwrites
    Slot* s = probe(key);
    s->key = key;
    s->merge = m;
  }
  void prefetch(uint64_t key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash(key) & mask_]);
  }
  const Merge* find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].merge;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are below 2^31, so no pair is this
  struct Slot {
    uint64_t key;
    Merge merge;
  };
  // Fibonacci hashing: the top bits of the product depend on every bit of both ids.
  size_t hash(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_); }
  Slot* probe(uint64_t key) {
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_)
      if (slots_[i].key == key || slots_[i].key == kEmpty) return &slots_[i];
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 60;
};

class BpeModel : public Model {
 public:
  BpeModel(std::unordered_map<std::string, int64_t> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, const BpeOptions& o,
           const std::string& where)
      : vocab_(std::move(vocab)), o_(o) {
    for (const auto& [tok, id] : vocab_) {
      if (id < 0 || static_cast<size_t>(id) > kMaxVocabId)
        throw Error(where + ": model 'BPE': vocab id " + std::to_string(id) + " of '" + tok + "' out of range");
      if (static_cast<size_t>(id) >= tokens_.size()) tokens_.resize(id + 1);
      tokens_[id] = tok;
    }
    merges_.reserve(merges.size());
    const std::string& prefix = o_.continuing_subword_prefix;
    std::string joined;
    for (size_t i = 0; i < merges.size(); ++i) {
      const std::string& a = merges[i].first;  // not structured bindings: lambdas capture them
      const std::string& b = merges[i].second;  // only from C++20 on (clang refuses)
      auto fail = [&](const std::string& what) {
        throw Error(where + ": model 'BPE': merges[" + std::to_string(i) + "] ('" + a + "' '" + b + "'): '" + what);
      };
      const auto ia = vocab_.find(a), ib = vocab_.find(b);
      if (ia == vocab_.end()) fail(a + "' is not in the vocabulary");
      if (ib == vocab_.end()) fail(b + "' is not in the vocabulary");
      const bool prefixed = !prefix.empty() && b.compare(0, prefix.size(), prefix) == 0;
      joined.assign(a).append(b, prefixed ? prefix.size() : 0);
      const auto ij = vocab_.find(joined);
      if (ij == vocab_.end()) fail(joined + "', the merged token, is not in the vocabulary");
      // A pair listed twice keeps its later rank, as in the reference.
      merges_.set(pair_key(ia->second, ib->second), {static_cast<uint32_t>(i), static_cast<uint32_t>(ij->second)});
    }
    if (o_.unk_token) {
      auto it = vocab_.find(*o_.unk_token);
      if (it != vocab_.end()) unk_id_ = it->second;
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      auto it = vocab_.find(name);
      byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    }
    if (prefix.empty() && o_.end_of_word_suffix.empty()) {
      fast_.assign(kFastChars, -1);
      for (const auto& [tok, id] : vocab_) {
        const CharSeq cs = decode_utf8(tok);
        if (cs.size() == 1 && cs[0].cp < kFastChars && to_utf8(cs) == tok) fast_[cs[0].cp] = id;
      }
    }
  }

  void tokenize(const CharSeq& word, std::vector<Token>& out) const override {
    if (word.empty()) return;
    if (o_.ignore_merges) {
      const std::string whole = to_utf8(word);
      auto it = vocab_.find(whole);
      if (it != vocab_.end()) {
        out.push_back({it->second, whole, word.front().begin, word.back().end});
        return;
      }
    }
    std::vector<Sym> syms = initial_symbols(word);
    if (syms.size() > 1) merge(syms);
    size_t kept = 0;
    for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) ++kept;
    if (out.capacity() < out.size() + kept) out.reserve(std::max(out.size() + kept, 2 * out.capacity()));
    for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
      const Sym& s = syms[i];
      std::string value = s.unk ? *o_.unk_token : tokens_[s.id];
      out.push_back({s.id, std::move(value), word[s.cb].begin, word[s.ce - 1].end});
    }
  }

  std::optional<int64_t> token_to_id(std::string_view token) const override {
    auto it = vocab_.find(std::string(token));
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }
  std::string id_to_token(int64_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return {};
    return tokens_[static_cast<size_t>(id)];
  }
  size_t vocab_size() const override { return tokens_.size(); }
  std::string name() const override { return "BPE"; }

 private:
  struct Sym {
    uint32_t id;
    int32_t prev, next;  // -1: none
    uint32_t cb, ce;     // the characters [cb, ce) of the word
    bool unk;
    bool gone;  // merged into the symbol before it
  };

  int64_t lookup_char(const CharSeq& word, size_t i, std::string& s) const {
    const char32_t cp = word[i].cp;
    if (!fast_.empty() && cp < kFastChars) return fast_[cp];
    s.clear();
    if (i > 0) s += o_.continuing_subword_prefix;
    append_utf8(s, cp);
    if (i + 1 == word.size()) s += o_.end_of_word_suffix;
    auto it = vocab_.find(s);
    return it == vocab_.end() ? -1 : it->second;
  }

  std::vector<Sym> initial_symbols(const CharSeq& word) const {
    std::vector<Sym> syms;
    syms.reserve(word.size());
    auto add = [&](int64_t id, uint32_t cb, uint32_t ce, bool unk) {
      const auto n = static_cast<int32_t>(syms.size());
      syms.push_back({static_cast<uint32_t>(id), n - 1, -1, cb, ce, unk, false});
      if (n > 0) syms[n - 1].next = n;
    };
    std::string s;
    for (size_t i = 0; i < word.size(); ++i) {
      const auto ci = static_cast<uint32_t>(i);
      const int64_t id = lookup_char(word, i, s);
      if (id >= 0) {
        add(id, ci, ci + 1, false);
        continue;
      }
      if (o_.byte_fallback) {
        if (!fast_.empty()) {  // lookup_char did not spell the character out
          s.clear();
          append_utf8(s, word[i].cp);
        }
        bool all = true;
        for (unsigned char b : s) all = all && byte_ids_[b] >= 0;
        if (all) {
          for (unsigned char b : s) add(byte_ids_[b], ci, ci + 1, false);
          continue;
        }
      }
      if (!o_.unk_token) continue;  // no unknown token: the character is dropped, as the reference
      if (!unk_id_) throw Error("BPE: unk_token '" + *o_.unk_token + "' is not in the vocabulary");
      if (o_.fuse_unk && !syms.empty() && syms.back().unk)
        syms.back().ce = ci + 1;
      else
        add(*unk_id_, ci, ci + 1, true);
    }
    return syms;
  }

  const Merge* find_merge(const Sym& a, const Sym& b) const { return merges_.find(pair_key(a.id, b.id)); }

  void merge(std::vector<Sym>& syms) const {
    struct Cand {
      uint32_t rank;
      int32_t pos;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    // The initial pairs: looked up with their table slots prefetched a few pairs ahead (the
    // table is far larger than the caches), then heapified at once.
    std::vector<Cand> initial;
    const auto n = static_cast<int32_t>(syms.size());
    constexpr int32_t kAhead = 8;
    for (int32_t i = 0; i + 1 < std::min(n, kAhead + 1); ++i) merges_.prefetch(pair_key(syms[i].id, syms[i + 1].id));
    for (int32_t i = 0; i + 1 < n; ++i) {
      if (i + kAhead + 1 < n) merges_.prefetch(pair_key(syms[i + kAhead].id, syms[i + kAhead + 1].id));
      if (const Merge* m = find_merge(syms[i], syms[i + 1])) initial.push_back({m->rank, i});
    }
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> queue(std::greater<Cand>(), std::move(initial));
    auto consider = [&](int32_t pos) {
      if (pos < 0 || syms[pos].next < 0) return;
      if (const Merge* m = find_merge(syms[pos], syms[syms[pos].next])) queue.push({m->rank, pos});
    };
    while (!queue.empty()) {
      const Cand c = queue.top();
      queue.pop();
      Sym& a = syms[c.pos];
      if (a.gone || a.next < 0) continue;
      Sym& b = syms[a.next];
      const Merge* m = find_merge(a, b);
      if (!m || m->rank != c.rank) continue;  // stale: one of the two has merged since
      a.id = m->new_id;
      a.ce = b.ce;
      a.next = b.next;
      b.gone = true;
      if (a.next >= 0) syms[a.next].prev = c.pos;
      if (a.prev >= 0) merges_.prefetch(pair_key(syms[a.prev].id, a.id));
      if (a.next >= 0) merges_.prefetch(pair_key(a.id, syms[a.next].id));
      consider(a.prev);
      consider(c.pos);
    }
  }

  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::string> tokens_;
  PairTable merges_;
  BpeOptions o_;
  std::optional<int64_t> unk_id_;
  int64_t byte_ids_[256];
  std::vector<int64_t> fast_;
};

}  // namespace

ModelPtr make_bpe_model(std::unordered_map<std::string, int64_t> vocab,
                        const std::vector<std::pair<std::string, std::string>>& merges, const BpeOptions& o,
                        const std::string& where) {
  return std::make_unique<BpeModel>(std::move(vocab), merges, o, where);
}

}  // namespace sbert::tok
