// Byte-level and sentencepiece-style BPE tokenizer.json files (Qwen3, Gemma 3) against the ids of
// the reference (Hugging Face Tokenizers.js, /work/shared/fixtures/golden/bpe-tokenize.json),
// and the offsets of their tokens against the text they came from.
#include <utf8proc.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/tokenizer.h"
#include "test_support.h"

namespace {

using sbert::Encoding;
using sbert::load_tokenizer;
using sbert::testing::load_json;

const nlohmann::json& golden(const std::filesystem::path& shared) {
  static nlohmann::json g = load_json(shared / "fixtures/golden/bpe-tokenize.json");
  return g;
}

std::unique_ptr<sbert::Tokenizer> load(const std::filesystem::path& shared, const std::string& name) {
  const auto t0 = std::chrono::steady_clock::now();
  auto tok = load_tokenizer(shared / "tokenizers" / name);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ load     ] %s: %.3f s (%s)\n", name.c_str(), s, tok->describe().c_str());
  return tok;
}

// Encodes every text and counts those whose ids differ from the reference (the first few are
// reported).
size_t mismatches(const std::filesystem::path& shared, const sbert::Tokenizer& tok, const std::string& name,
                  bool add_special) {
  const auto& g = golden(shared);
  const auto& texts = g["texts"];
  const auto& ids = g["tokenizers"][name][add_special ? "ids" : "ids_no_special"];
  EXPECT_EQ(texts.size(), ids.size());
  EXPECT_GT(texts.size(), 1000u);
  size_t bad = 0;
  for (size_t i = 0; i < texts.size() && i < ids.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    const Encoding e = tok.encode(text, add_special);
    const auto want = ids[i].get<std::vector<int64_t>>();
    if (e.ids == want) continue;
    if (++bad <= 5) {
      std::string got, exp;
      for (auto v : e.ids) got += std::to_string(v) + " ";
      for (auto v : want) exp += std::to_string(v) + " ";
      ADD_FAILURE() << name << " text " << i << ": " << text.substr(0, 120) << "\n  got      "
                    << got.substr(0, 400) << "\n  expected " << exp.substr(0, 400);
    }
  }
  return bad;
}

TEST(BpeGolden, Qwen3ByteLevel) {
  SBERT_REQUIRE_SHARED(shared);
  auto tok = load(shared, "qwen3");
  EXPECT_EQ(mismatches(shared, *tok, "qwen3", true), 0u);
  EXPECT_EQ(mismatches(shared, *tok, "qwen3", false), 0u);
}

TEST(BpeGolden, Gemma3ByteFallback) {
  SBERT_REQUIRE_SHARED(shared);
  auto tok = load(shared, "gemma3");
  EXPECT_EQ(mismatches(shared, *tok, "gemma3", true), 0u);
  EXPECT_EQ(mismatches(shared, *tok, "gemma3", false), 0u);
}

// ---- offsets ----

// GPT-2's printable character for each byte, inverted (written out from the GPT-2 encoder's
// bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 upwards in order).
std::map<char32_t, unsigned char> gpt2_char_to_byte() {
  std::map<char32_t, unsigned char> m;
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    m[printable ? static_cast<char32_t>(b) : next++] = static_cast<unsigned char>(b);
  }
  return m;
}

std::u32string utf32(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

// The UTF-8 bytes of code points [b, e) of `text`.
std::string code_point_slice(const std::string& text, size_t b, size_t e) {
  size_t cp = 0, from = std::string::npos, to = text.size();
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (cp == b && from == std::string::npos) from = i;
    if (cp == e) {
      to = i;
      break;
    }
    ++cp;
  }
  return from == std::string::npos ? std::string() : text.substr(from, to - from);
}

const std::vector<std::string> kOffsetTexts = {
    "Hello world, it's 2026!", "한국어 문장입니다.", "😀 emoji 👍🏽 family 👨\u200d👩\u200d👧",
    "e\xCC\x81t\xC3\xA9 combining a\xCC\x8A", "  two  spaces\tand\nnewline"};

std::string nfc(const std::string& s) {
  utf8proc_uint8_t* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
  std::string r(reinterpret_cast<char*>(out));
  free(out);
  return r;
}

// Every token's bytes (from its spelling, decoded independently of the tokenizer) lie inside the
// text its code-point offsets select (NFC-normalized for a tokenizer that normalizes so), and the
// spans move forward through the text.
void check_offsets(const sbert::Tokenizer& tok, bool byte_level) {
  const auto to_byte = gpt2_char_to_byte();
  for (const std::string& text : kOffsetTexts) {
    const Encoding e = tok.encode(text, false);
    const auto spans = sbert::offsets_in(e, text, sbert::OffsetUnit::CodePoints);
    ASSERT_EQ(spans.size(), e.tokens.size());
    const size_t n_cp = utf32(text).size();
    size_t prev_begin = 0;
    for (size_t i = 0; i < e.tokens.size(); ++i) {
      const std::string& t = e.tokens[i];
      std::string bytes;
      if (byte_level) {
        for (char32_t c : utf32(t)) {
          ASSERT_TRUE(to_byte.count(c)) << "token '" << t << "' is not byte-level";
          bytes.push_back(static_cast<char>(to_byte.at(c)));
        }
      } else if (t.size() == 6 && t.rfind("<0x", 0) == 0) {
        bytes.push_back(static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
      } else {
        for (size_t p = 0; p < t.size();)  // "▁" stands for a space
          if (t.compare(p, 3, "\xE2\x96\x81") == 0) bytes += ' ', p += 3;
          else bytes += t[p++];
      }
      const auto [b, en] = spans[i];
      EXPECT_LE(b, en);
      EXPECT_LE(en, n_cp);
      EXPECT_GE(b, prev_begin) << "token " << i << " of '" << text << "' starts before the one before it";
      prev_begin = b;
      const std::string slice = byte_level ? nfc(code_point_slice(text, b, en)) : code_point_slice(text, b, en);
      EXPECT_NE(slice.find(bytes), std::string::npos)
          << "token " << i << " '" << t << "' of '" << text << "': span [" << b << ", " << en << ") is '"
          << slice << "'";
    }
  }
}

TEST(BpeGolden, Qwen3OffsetsCoverTheirBytes) {
  SBERT_REQUIRE_SHARED(shared);
  check_offsets(*load_tokenizer(shared / "tokenizers/qwen3"), true);
}

TEST(BpeGolden, Gemma3OffsetsCoverTheirBytes) {
  SBERT_REQUIRE_SHARED(shared);
  check_offsets(*load_tokenizer(shared / "tokenizers/gemma3"), false);
}

}  // namespace
