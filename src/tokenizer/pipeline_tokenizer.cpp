#include <algorithm>

#include "sbert/error.h"
#include "tokenizer/pipeline.h"

namespace sbert::tok {

// ---- AddedTokenMatcher ----

void AddedTokenMatcher::add(const AddedToken& t) {
  Entry e;
  for (const Char& c : decode_utf8(t.content)) e.chars.push_back(c.cp);
  if (e.chars.empty()) return;
  uint32_t node = 0;
  for (char32_t c : e.chars) {
    auto [it, fresh] = edges_.try_emplace((uint64_t{node} << 32) | c, static_cast<uint32_t>(node_token_.size()));
    if (fresh) node_token_.push_back(-1);
    node = it->second;
  }
  if (node_token_[node] >= 0) return;  // the same text twice: the first one added wins
  node_token_[node] = static_cast<int32_t>(tokens_.size());
  e.token = t;
  tokens_.push_back(std::move(e));
}

namespace {
bool is_word_boundary_char(char32_t c) { return is_whitespace(c) || is_punctuation(c); }
}  // namespace

std::vector<AddedTokenMatcher::Match> AddedTokenMatcher::find(const CharSeq& s) const {
  std::vector<Match> out;
  if (tokens_.empty()) return out;
  size_t floor = 0;  // end of the previous match
  size_t i = 0;
  std::vector<int32_t> ending;  // tokens that match at i, shortest first
  while (i < s.size()) {
    ending.clear();
    uint32_t node = 0;
    for (size_t k = i; k < s.size(); ++k) {
      auto it = edges_.find((uint64_t{node} << 32) | s[k].cp);
      if (it == edges_.end()) break;
      node = it->second;
      if (node_token_[node] >= 0) ending.push_back(node_token_[node]);
    }
    const Entry* hit = nullptr;
    for (auto t = ending.rbegin(); t != ending.rend() && !hit; ++t) {  // longest first
      const Entry& e = tokens_[static_cast<size_t>(*t)];
      const size_t j = i + e.chars.size();
      if (e.token.single_word && ((i > 0 && !is_word_boundary_char(s[i - 1].cp)) ||
                                  (j < s.size() && !is_word_boundary_char(s[j].cp))))
        continue;
      hit = &e;
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t b = i, e = i + hit->chars.size();
    if (hit->token.lstrip)
      while (b > floor && is_whitespace(s[b - 1].cp)) --b;
    if (hit->token.rstrip)
      while (e < s.size() && is_whitespace(s[e].cp)) ++e;
    out.push_back({b, e, &hit->token});
    floor = i = e;
  }
  return out;
}

// ---- PipelineTokenizer ----

PipelineTokenizer::PipelineTokenizer(std::string description, std::vector<AddedToken> added,
                                     NormalizerPtr normalizer, PreTokenizerPtr pre_tokenizer,
                                     ModelPtr model, PostProcessorPtr post)
    : description_(std::move(description)),
      added_(std::move(added)),
      normalizer_(std::move(normalizer)),
      pre_tokenizer_(std::move(pre_tokenizer)),
      model_(std::move(model)),
      post_(std::move(post)) {
  for (const AddedToken& t : added_) (t.normalized ? normalized_matcher_ : raw_matcher_).add(t);
}

void PipelineTokenizer::force_lowercase() { lowercase_ = make_lowercase_normalizer(); }

void PipelineTokenizer::set_growth_limit(size_t growth, std::string source) {
  growth_ = growth;
  source_ = std::move(source);
}

void PipelineTokenizer::encode_segment(CharSeq seg, std::vector<Token>& out) const {
  const size_t in = seg.size();
  const size_t max_chars = growth_ == 0 ? SIZE_MAX
                           : std::max<size_t>(in, 16) > SIZE_MAX / growth_ ? SIZE_MAX
                                                                          : std::max<size_t>(in, 16) * growth_;
  try {
    if (lowercase_) lowercase_->normalize(seg, max_chars);
    if (normalizer_) normalizer_->normalize(seg, max_chars);
  } catch (const NormalizedTooLong& e) {
    throw Error((source_.empty() ? description_ : source_) + ": the normalizer makes a text of " +
                std::to_string(in) + " characters longer than " + std::to_string(e.max_chars) + " (" +
                std::to_string(growth_) + "x its input; --max-normalized-growth raises the bound)");
  }
  auto run_model = [&](CharSeq piece) {
    std::vector<CharSeq> pieces;
    pieces.push_back(std::move(piece));
    if (pre_tokenizer_) pre_tokenizer_->split(pieces);
    for (const CharSeq& p : pieces)
      if (!p.empty()) model_->tokenize(p, out);
  };
  if (normalized_matcher_.empty()) {
    run_model(std::move(seg));
    return;
  }
  size_t pos = 0;
  for (const auto& m : normalized_matcher_.find(seg)) {
    if (m.begin > pos) run_model(CharSeq(seg.begin() + pos, seg.begin() + m.begin));
    out.push_back({m.token->id, m.token->content, seg[m.begin].begin, seg[m.end - 1].end});
    pos = m.end;
  }
  if (pos < seg.size()) run_model(CharSeq(seg.begin() + pos, seg.end()));
}

Encoding PipelineTokenizer::encode_plain(std::string_view text) const {
  if (text.size() >= UINT32_MAX) throw Error("tokenizer: text longer than 4 GiB");
  CharSeq chars = decode_utf8(text);
  std::vector<Token> toks;
  size_t pos = 0;
  for (const auto& m : raw_matcher_.find(chars)) {
    if (m.begin > pos) encode_segment(CharSeq(chars.begin() + pos, chars.begin() + m.begin), toks);
    toks.push_back({m.token->id, m.token->content, chars[m.begin].begin, chars[m.end - 1].end});
    pos = m.end;
  }
  if (pos < chars.size()) {
    if (pos == 0)
      encode_segment(std::move(chars), toks);
    else
      encode_segment(CharSeq(chars.begin() + pos, chars.end()), toks);
  }
  Encoding e;
  const size_t n = toks.size();
  e.ids.reserve(n);
  e.tokens.reserve(n);
  e.offsets.reserve(n);
  for (Token& t : toks) {
    e.ids.push_back(t.id);
    e.tokens.push_back(std::move(t.value));
    e.offsets.emplace_back(t.begin, t.end);
  }
  e.type_ids.assign(n, 0);
  e.special_mask.assign(n, 0);
  e.sequence_ids.assign(n, 0);
  if (post_) post_->adjust(e);
  return e;
}

Encoding PipelineTokenizer::add_special_tokens(const Encoding& first, const Encoding* second) const {
  if (post_) return post_->process(first, second);
  Encoding out = first;
  if (second) {
    out.ids.insert(out.ids.end(), second->ids.begin(), second->ids.end());
    out.type_ids.insert(out.type_ids.end(), second->ids.size(), 1);
    out.tokens.insert(out.tokens.end(), second->tokens.begin(), second->tokens.end());
    out.offsets.insert(out.offsets.end(), second->offsets.begin(), second->offsets.end());
    out.special_mask.insert(out.special_mask.end(), second->ids.size(), 0);
    out.sequence_ids.insert(out.sequence_ids.end(), second->ids.size(), 1);
  }
  return out;
}

size_t PipelineTokenizer::num_special_tokens(bool pair) const {
  return post_ ? post_->added_tokens(pair) : 0;
}

size_t PipelineTokenizer::vocab_size() const {
  size_t n = model_->vocab_size();
  for (const AddedToken& t : added_) n = std::max(n, static_cast<size_t>(t.id) + 1);
  return n;
}

std::optional<int64_t> PipelineTokenizer::token_to_id(std::string_view token) const {
  for (const AddedToken& t : added_)
    if (t.content == token) return t.id;
  return model_->token_to_id(token);
}

std::string PipelineTokenizer::id_to_token(int64_t id) const {
  for (const AddedToken& t : added_)
    if (t.id == id) return t.content;
  return model_->id_to_token(id);
}

}  // namespace sbert::tok
