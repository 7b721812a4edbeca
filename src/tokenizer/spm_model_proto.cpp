#include "tokenizer/spm_model_proto.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "sbert/error.h"

namespace sbert::tok {

namespace {

// Protocol buffer wire format over a byte range; every read is bounds-checked.
class Wire {
 public:
  Wire(std::string_view bytes, const std::string& what, size_t base)
      : p_(bytes), what_(what), base_(base) {}

  bool done() const { return pos_ >= p_.size(); }

  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(what_ + ": malformed sentencepiece model (" + msg + " at byte " + std::to_string(base_ + pos_) + ")");
  }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos_ >= p_.size()) fail("truncated varint");
      const auto b = static_cast<uint8_t>(p_[pos_++]);
      if (shift == 63 && b > 1) fail("varint too long");
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint too long");
  }

  // Returns the field number and wire type of the next key.
  std::pair<uint32_t, int> key() {
    const uint64_t k = varint();
    const uint64_t field = k >> 3;
    if (field == 0 || field > 0x1fffffff) fail("invalid field number");
    return {static_cast<uint32_t>(field), static_cast<int>(k & 7)};
  }

  // A length-delimited payload and the absolute offset where it starts.
  std::pair<std::string_view, size_t> bytes() {
    const size_t at = pos_;
    const uint64_t n = varint();
    if (n > p_.size() - pos_) {
      pos_ = at;
      fail("length " + std::to_string(n) + " runs past the end");
    }
    const size_t start = pos_;
    pos_ += static_cast<size_t>(n);
    return {p_.substr(start, static_cast<size_t>(n)), base_ + start};
  }

  float fixed32_float() {
    if (p_.size() - pos_ < 4) fail("truncated fixed32");
    uint32_t u = 0;
    for (int i = 3; i >= 0; --i) u = (u << 8) | static_cast<uint8_t>(p_[pos_ + static_cast<size_t>(i)]);
    pos_ += 4;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  void skip(int wire_type) {
    switch (wire_type) {
      case 0: varint(); return;
      case 1:
        if (p_.size() - pos_ < 8) fail("truncated fixed64");
        pos_ += 8;
        return;
      case 2: bytes(); return;
      case 5:
        if (p_.size() - pos_ < 4) fail("truncated fixed32");
        pos_ += 4;
        return;
      default: fail("unsupported wire type " + std::to_string(wire_type));
    }
  }

  void expect(int got, int want, const char* field) {
    if (got != want) fail(std::string("field '") + field + "' has wire type " + std::to_string(got));
  }

  int32_t int32_field(int wire_type, const char* field) {
    expect(wire_type, 0, field);
    return static_cast<int32_t>(static_cast<int64_t>(varint()));
  }
  bool bool_field(int wire_type, const char* field) {
    expect(wire_type, 0, field);
    return varint() != 0;
  }
  std::string string_field(int wire_type, const char* field) {
    expect(wire_type, 2, field);
    return std::string(bytes().first);
  }
  Wire message_field(int wire_type, const char* field) {
    expect(wire_type, 2, field);
    auto [b, at] = bytes();
    return Wire(b, what_, at);
  }

 private:
  std::string_view p_;
  const std::string& what_;
  size_t base_;
  size_t pos_ = 0;
};

void parse_piece(Wire w, SpmModelProto::Piece& out) {
  while (!w.done()) {
    auto [field, wt] = w.key();
    if (field == 1) out.piece = w.string_field(wt, "piece");
    else if (field == 2) {
      w.expect(wt, 5, "score");
      out.score = w.fixed32_float();
    } else if (field == 3) out.type = w.int32_field(wt, "type");
    else w.skip(wt);
  }
}

void parse_trainer(Wire w, SpmModelProto& m) {
  while (!w.done()) {
    auto [field, wt] = w.key();
    switch (field) {
      case 3: m.model_type = w.int32_field(wt, "trainer_spec.model_type"); break;
      case 35: m.byte_fallback = w.bool_field(wt, "trainer_spec.byte_fallback"); break;
      case 40: m.unk_id = w.int32_field(wt, "trainer_spec.unk_id"); break;
      case 41: m.bos_id = w.int32_field(wt, "trainer_spec.bos_id"); break;
      case 42: m.eos_id = w.int32_field(wt, "trainer_spec.eos_id"); break;
      case 43: m.pad_id = w.int32_field(wt, "trainer_spec.pad_id"); break;
      default: w.skip(wt);
    }
  }
}

void parse_normalizer(Wire w, SpmModelProto& m) {
  while (!w.done()) {
    auto [field, wt] = w.key();
    switch (field) {
      case 1: m.normalizer_name = w.string_field(wt, "normalizer_spec.name"); break;
      case 2: m.precompiled_charsmap = w.string_field(wt, "normalizer_spec.precompiled_charsmap"); break;
      case 3: m.add_dummy_prefix = w.bool_field(wt, "normalizer_spec.add_dummy_prefix"); break;
      case 4: m.remove_extra_whitespaces = w.bool_field(wt, "normalizer_spec.remove_extra_whitespaces"); break;
      case 5: m.escape_whitespaces = w.bool_field(wt, "normalizer_spec.escape_whitespaces"); break;
      default: w.skip(wt);
    }
  }
}

}  // namespace

SpmModelProto parse_spm_model(std::string_view bytes, const std::string& what) {
  SpmModelProto m;
  Wire w(bytes, what, 0);
  while (!w.done()) {
    auto [field, wt] = w.key();
    if (field == 1) {
      SpmModelProto::Piece p;
      parse_piece(w.message_field(wt, "pieces"), p);
      m.pieces.push_back(std::move(p));
    } else if (field == 2) {
      parse_trainer(w.message_field(wt, "trainer_spec"), m);
    } else if (field == 3) {
      parse_normalizer(w.message_field(wt, "normalizer_spec"), m);
    } else {
      w.skip(wt);
    }
  }
  if (m.pieces.empty()) throw Error(what + ": malformed sentencepiece model (no pieces)");
  const auto n = static_cast<int64_t>(m.pieces.size());
  if (m.unk_id < 0 || m.unk_id >= n)
    throw Error(what + ": malformed sentencepiece model (trainer_spec.unk_id " + std::to_string(m.unk_id) +
                " outside the " + std::to_string(n) + " pieces)");
  for (size_t i = 0; i < m.pieces.size(); ++i)
    if (m.pieces[i].piece.empty())
      throw Error(what + ": malformed sentencepiece model (piece " + std::to_string(i) + " is empty)");
  return m;
}

SpmModelProto read_spm_model(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(file.string() + ": read error");
  return parse_spm_model(ss.str(), file.string());
}

}  // namespace sbert::tok
