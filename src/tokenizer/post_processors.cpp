// Post-processors: wrap one or two encodings in the model's special tokens and set type ids.
#include "sbert/error.h"
#include "tokenizer/pipeline.h"

namespace sbert::tok {

namespace {

void append_special(Encoding& out, const SpecialToken& t, int64_t type_id) {
  out.ids.push_back(t.id);
  out.type_ids.push_back(type_id);
  out.tokens.push_back(t.token);
  out.offsets.emplace_back(0, 0);
  out.special_mask.push_back(1);
  out.sequence_ids.push_back(-1);
}

void append_sequence(Encoding& out, const Encoding& e, int64_t type_id, int8_t seq) {
  out.ids.insert(out.ids.end(), e.ids.begin(), e.ids.end());
  out.type_ids.insert(out.type_ids.end(), e.ids.size(), type_id);
  out.tokens.insert(out.tokens.end(), e.tokens.begin(), e.tokens.end());
  out.offsets.insert(out.offsets.end(), e.offsets.begin(), e.offsets.end());
  if (e.special_mask.size() == e.ids.size())
    out.special_mask.insert(out.special_mask.end(), e.special_mask.begin(), e.special_mask.end());
  else
    out.special_mask.insert(out.special_mask.end(), e.ids.size(), 0);
  out.sequence_ids.insert(out.sequence_ids.end(), e.ids.size(), seq);
}

class TemplateProcessing : public PostProcessor {
 public:
  TemplateProcessing(std::vector<TemplatePiece> single, std::vector<TemplatePiece> pair)
      : single_(std::move(single)), pair_(std::move(pair)) {}

  Encoding process(const Encoding& a, const Encoding* b) const override {
    Encoding out;
    for (const TemplatePiece& p : b ? pair_ : single_) {
      if (p.is_sequence) {
        const Encoding* e = p.sequence == 0 ? &a : b;
        if (e) append_sequence(out, *e, p.type_id, static_cast<int8_t>(p.sequence));
      } else {
        for (const SpecialToken& t : p.special) append_special(out, t, p.type_id);
      }
    }
    return out;
  }
  size_t added_tokens(bool pair) const override {
    size_t n = 0;
    for (const TemplatePiece& p : pair ? pair_ : single_)
      if (!p.is_sequence) n += p.special.size();
    return n;
  }

 private:
  std::vector<TemplatePiece> single_, pair_;
};

// Parts applied in turn: each adjusts the encodings, the one that adds tokens combines them.
class SequenceProcessing : public PostProcessor {
 public:
  explicit SequenceProcessing(std::vector<PostProcessorPtr> parts) : parts_(std::move(parts)) {
    for (const auto& p : parts_)
      if (p->added_tokens(false) > 0 || p->added_tokens(true) > 0) {
        if (adding_) throw Error("post_processor 'Sequence': more than one part adds special tokens");
        adding_ = p.get();
      }
  }
  Encoding process(const Encoding& a, const Encoding* b) const override {
    if (adding_) return adding_->process(a, b);
    return (parts_.empty() ? *concat_ : *parts_[0]).process(a, b);
  }
  size_t added_tokens(bool pair) const override { return adding_ ? adding_->added_tokens(pair) : 0; }
  void adjust(Encoding& e) const override {
    for (const auto& p : parts_) p->adjust(e);
  }

 private:
  std::vector<PostProcessorPtr> parts_;
  const PostProcessor* adding_ = nullptr;
  PostProcessorPtr concat_ = make_byte_level_processing(false, false);  // for an empty Sequence
};

TemplatePiece special(const SpecialToken& t, int64_t type_id) { return {false, 0, {t}, type_id}; }
TemplatePiece sequence(int s, int64_t type_id) { return {true, s, {}, type_id}; }

}  // namespace

PostProcessorPtr make_template_processing(std::vector<TemplatePiece> single,
                                          std::vector<TemplatePiece> pair) {
  return std::make_unique<TemplateProcessing>(std::move(single), std::move(pair));
}

PostProcessorPtr make_bert_processing(SpecialToken cls, SpecialToken sep) {
  return make_template_processing(
      {special(cls, 0), sequence(0, 0), special(sep, 0)},
      {special(cls, 0), sequence(0, 0), special(sep, 0), sequence(1, 1), special(sep, 1)});
}

PostProcessorPtr make_roberta_processing(SpecialToken cls, SpecialToken sep) {
  return make_template_processing(
      {special(cls, 0), sequence(0, 0), special(sep, 0)},
      {special(cls, 0), sequence(0, 0), special(sep, 0), special(sep, 0), sequence(1, 0),
       special(sep, 0)});
}

PostProcessorPtr make_sequence_processing(std::vector<PostProcessorPtr> parts) {
  return std::make_unique<SequenceProcessing>(std::move(parts));
}

}  // namespace sbert::tok
