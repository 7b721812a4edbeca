#include "tokenizer/unicode_text.h"

#include <utf8proc.h>

#include <algorithm>

namespace sbert::tok {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not valid.
size_t valid_sequence_length(std::string_view s, size_t i, char32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t n;
  char32_t c;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, c = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, c = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return n;
}

}  // namespace

CharSeq decode_utf8(std::string_view text, size_t* invalid) {
  CharSeq out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp;
    size_t n = valid_sequence_length(text, i, &cp);
    if (n == 0) {
      cp = 0xFFFD;
      n = 1;
      if (invalid) ++*invalid;
    }
    out.push_back({cp, static_cast<uint32_t>(i), static_cast<uint32_t>(i + n)});
    i += n;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string to_utf8(const CharSeq& chars, size_t from, size_t to) {
  to = std::min(to, chars.size());
  std::string out;
  out.reserve(to > from ? (to - from) * 2 : 0);
  for (size_t i = from; i < to; ++i) append_utf8(out, chars[i].cp);
  return out;
}

size_t sanitize_utf8(std::string& text) {
  size_t bad = 0;
  std::string out;
  size_t i = 0;
  bool changed = false;
  while (i < text.size()) {
    char32_t cp;
    size_t n = valid_sequence_length(text, i, &cp);
    if (n == 0) {
      if (!changed) {
        out.assign(text, 0, i);
        changed = true;
      }
      append_utf8(out, 0xFFFD);
      ++bad;
      ++i;
      continue;
    }
    if (changed) out.append(text, i, n);
    i += n;
  }
  if (changed) text.swap(out);
  return bad;
}

bool is_whitespace(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_other(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN:
      return true;
    default:
      return false;
  }
}

bool is_punctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool is_cjk_ideograph(char32_t c) {
  // The blocks of the `tokenizers` BertNormalizer (CJK Unified Ideographs and extensions,
  // compatibility ideographs).
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_nonspacing_mark(char32_t c) {
  return c >= 0x300 && utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_MN;
}

int combining_class(char32_t c) {
  if (c < 0x300) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

void lowercase_into(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out.push_back((c >= 'A' && c <= 'Z') ? c + 32 : c);
    return;
  }
  if (c == 0x130) {  // the one unconditional multi-character lower-case mapping
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

namespace {

void decompose_into(const Char& ch, bool compat, CharSeq& out) {
  if (ch.cp < 0xC0) {  // nothing below U+00C0 decomposes canonically; A0..BF may under compat
    if (!compat || ch.cp < 0xA0) {
      out.push_back(ch);
      return;
    }
  }
  utf8proc_int32_t buf[32];
  int boundclass = 0;
  const auto opts = static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(ch.cp), buf, 32, opts,
                                               &boundclass);
  if (n <= 0 || n > 32) {
    out.push_back(ch);
    return;
  }
  for (utf8proc_ssize_t k = 0; k < n; ++k)
    out.push_back({static_cast<char32_t>(buf[k]), ch.begin, ch.end});
}

// Canonical ordering: stable sort of each run of non-starters by combining class.
void canonical_order(CharSeq& s) {
  size_t i = 0;
  while (i < s.size()) {
    if (combining_class(s[i].cp) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && combining_class(s[j].cp) != 0) ++j;
    if (j - i > 1)
      std::stable_sort(s.begin() + i, s.begin() + j, [](const Char& a, const Char& b) {
        return combining_class(a.cp) < combining_class(b.cp);
      });
    i = j;
  }
}

bool composes(char32_t a, char32_t b) {
  utf8proc_int32_t buf[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  return utf8proc_normalize_utf32(buf, 2, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE)) == 1;
}

// Canonical composition of a decomposed, ordered sequence. Runs that may compose (a starter,
// its non-starters, and any following starter it combines with) are composed by utf8proc;
// when a run changes length every output character spans the whole run.
CharSeq compose(const CharSeq& s) {
  CharSeq out;
  out.reserve(s.size());
  size_t i = 0;
  std::vector<utf8proc_int32_t> buf;
  while (i < s.size()) {
    size_t j = i + 1;
    while (j < s.size() &&
           (combining_class(s[j].cp) != 0 || composes(s[j - 1].cp, s[j].cp) ||
            (j >= i + 2 && composes(s[i].cp, s[j].cp)) ||
            // Hangul: an LV pair composes with a following trailing consonant.
            (s[j].cp >= 0x11A8 && s[j].cp <= 0x11C2 && s[j - 1].cp >= 0x1161 &&
             s[j - 1].cp <= 0x1175)))
      ++j;
    if (j == i + 1) {
      out.push_back(s[i]);
      i = j;
      continue;
    }
    buf.clear();
    for (size_t k = i; k < j; ++k) buf.push_back(static_cast<utf8proc_int32_t>(s[k].cp));
    utf8proc_ssize_t n = utf8proc_normalize_utf32(buf.data(), static_cast<utf8proc_ssize_t>(buf.size()),
                                                  static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE));
    if (n < 0) n = 0;
    if (static_cast<size_t>(n) == j - i) {
      for (size_t k = 0; k < static_cast<size_t>(n); ++k)
        out.push_back({static_cast<char32_t>(buf[k]), s[i + k].begin, s[i + k].end});
    } else {
      uint32_t b = s[i].begin, e = s[i].end;
      for (size_t k = i; k < j; ++k) b = std::min(b, s[k].begin), e = std::max(e, s[k].end);
      for (size_t k = 0; k < static_cast<size_t>(n); ++k)
        out.push_back({static_cast<char32_t>(buf[k]), b, e});
    }
    i = j;
  }
  return out;
}

}  // namespace

CharSeq normalize(const CharSeq& in, NormForm form) {
  const bool compat = form == NormForm::NFKC || form == NormForm::NFKD;
  CharSeq d;
  d.reserve(in.size() + in.size() / 4);
  for (const Char& c : in) decompose_into(c, compat, d);
  canonical_order(d);
  if (form == NormForm::NFD || form == NormForm::NFKD) return d;
  return compose(d);
}

}  // namespace sbert::tok
