// A bare SentencePiece .model converted into the reference's fast tokenizer (spm_convert.cpp):
// ids against the goldens without tokenizer.json, the sentencepiece backend on request, and
// corrupt .model files.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/tokenizer.h"
#include "test_support.h"
#include "tokenizer/spm_convert.h"
#include "tokenizer/spm_model_proto.h"

namespace {

namespace fs = std::filesystem;
using sbert::Encoding;
using sbert::load_tokenizer;
using sbert::TokenizerBackend;
using sbert::TokenizerOptions;
using sbert::testing::error_of;
using sbert::testing::load_json;
using sbert::testing::temp_dir;

fs::path copy_fixture(const fs::path& src, const std::string& name, const std::vector<std::string>& leave_out) {
  return sbert::testing::copy_folder(src, name, leave_out);
}

// Indices of the texts whose ids (truncated at max_len) differ from the golden.
std::vector<size_t> mismatches(const sbert::Tokenizer& tok, const nlohmann::json& texts, const nlohmann::json& ids,
                               size_t max_len) {
  std::vector<size_t> bad;
  for (size_t i = 0; i < texts.size(); ++i)
    if (tok.encode(texts[i].get<std::string>(), true, max_len).ids != ids[i].get<std::vector<int64_t>>())
      bad.push_back(i);
  return bad;
}

struct Xlmr {
  nlohmann::json golden;
  fs::path bare;  // the fixture without tokenizer.json
  size_t max_len = 128;
};

Xlmr xlmr_fixture(const fs::path& shared) {
  Xlmr x;
  x.golden = load_json(shared / "fixtures/golden/xlmr-spm-mean-norm.json");
  x.max_len = x.golden.value("max_seq_length", 128);
  x.bare = copy_fixture(shared / "fixtures/models/xlmr-spm-mean-norm", "spm-convert-xlmr", {"tokenizer.json"});
  return x;
}

// The texts on which libsentencepiece (fairseq offset) and the golden disagree.
std::vector<size_t> sentencepiece_mismatches(const Xlmr& x) {
  TokenizerOptions o;
  o.backend = TokenizerBackend::SentencePiece;
  auto spm = load_tokenizer(x.bare, o);
  return mismatches(*spm, x.golden["texts"], x.golden["input_ids"], x.max_len);
}

TEST(SpmConvert, XlmrWithoutTokenizerJsonMatchesGoldenOnEveryText) {
  SBERT_REQUIRE_SHARED(shared);
  const Xlmr x = xlmr_fixture(shared);
  ASSERT_FALSE(fs::exists(x.bare / "tokenizer.json"));
  auto tok = load_tokenizer(x.bare);
  EXPECT_NE(tok->describe().find("converted"), std::string::npos) << tok->describe();
  const auto bad = mismatches(*tok, x.golden["texts"], x.golden["input_ids"], x.max_len);
  EXPECT_TRUE(bad.empty()) << bad.size() << " text(s) differ, first " << (bad.empty() ? 0 : bad[0]);

  // The jamo text(s) where sentencepiece differs are among those matched.
  const auto spm_bad = sentencepiece_mismatches(x);
  ASSERT_EQ(spm_bad.size(), x.golden["spm_plus_offset_mismatches"].get<size_t>());
  ASSERT_FALSE(spm_bad.empty());
  for (size_t i : spm_bad) {
    const std::string text = x.golden["texts"][i];
    // Decomposed Hangul: conjoining jamo U+1100..U+11FF (UTF-8 E1 84 80 .. E1 87 BF).
    EXPECT_NE(text.find("\xE1\x84"), std::string::npos) << "text " << i;
    EXPECT_EQ(tok->encode(text, true, x.max_len).ids, x.golden["input_ids"][i].get<std::vector<int64_t>>());
  }

  // Specials, vocabulary size and padding as the fast tokenizer has them.
  EXPECT_EQ(tok->pad_id(), 1);
  EXPECT_EQ(tok->token_to_id("<s>"), 0);
  EXPECT_EQ(tok->token_to_id("</s>"), 2);
  EXPECT_EQ(tok->token_to_id("<unk>"), 3);
  EXPECT_EQ(tok->token_to_id("<mask>"), 4001);
  EXPECT_EQ(tok->vocab_size(), 4002u);
  const Encoding special = tok->encode("a <mask> b </s>");
  EXPECT_EQ(special.ids[0], 0);
  EXPECT_EQ(special.ids.back(), 2);
  EXPECT_EQ(std::count(special.ids.begin(), special.ids.end(), 4001), 1);
}

TEST(SpmConvert, ConvertedEqualsTokenizerJsonOnTextsAndPairs) {
  SBERT_REQUIRE_SHARED(shared);
  const Xlmr x = xlmr_fixture(shared);
  auto converted = load_tokenizer(x.bare);
  auto fast = load_tokenizer(shared / "fixtures/models/xlmr-spm-mean-norm");
  EXPECT_NE(fast->describe().find("tokenizer.json"), std::string::npos) << fast->describe();
  // tokenizer.json present: the golden on every text as well.
  EXPECT_TRUE(mismatches(*fast, x.golden["texts"], x.golden["input_ids"], x.max_len).empty());

  const auto& texts = x.golden["texts"];
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string t = texts[i];
    const Encoding a = converted->encode(t), b = fast->encode(t);
    ASSERT_EQ(a.ids, b.ids) << i;
    EXPECT_EQ(a.tokens, b.tokens) << i;
    EXPECT_EQ(a.offsets, b.offsets) << i;
    const std::string next = texts[(i + 1) % texts.size()];
    const Encoding pa = converted->encode_pair(t, next, 48), pb = fast->encode_pair(t, next, 48);
    EXPECT_EQ(pa.ids, pb.ids) << i;
    EXPECT_EQ(pa.type_ids, pb.type_ids) << i;
    EXPECT_EQ(pa.special_mask, pb.special_mask) << i;
  }
}

TEST(SpmConvert, NliXlmrWithoutTokenizerJsonPairs) {
  SBERT_REQUIRE_SHARED(shared);
  const auto g = load_json(shared / "fixtures/golden/nli-xlmr.json");
  const auto xg = load_json(shared / "fixtures/golden/xlmr-spm-mean-norm.json");
  const fs::path bare = copy_fixture(shared / "fixtures/models/nli-xlmr", "spm-convert-nli", {"tokenizer.json"});
  auto converted = load_tokenizer(bare);
  EXPECT_NE(converted->describe().find("converted"), std::string::npos) << converted->describe();
  // The same sentencepiece model as xlmr-spm-mean-norm: that golden's ids on every text.
  EXPECT_TRUE(mismatches(*converted, xg["texts"], xg["input_ids"], 128).empty());
  // Premise/hypothesis pairs as the reference's tokenizer.json builds them (ids, type ids).
  auto fast = load_tokenizer(shared / "fixtures/models/nli-xlmr");
  const std::string tpl = g["hypothesis_template"];
  for (const auto& t : g["texts"])
    for (const auto& label : g["labels"]) {
      std::string hyp = tpl;
      hyp.replace(hyp.find("{}"), 2, label.get<std::string>());
      const Encoding a = converted->encode_pair(t.get<std::string>(), hyp, 128, sbert::Truncation::OnlyFirst);
      const Encoding b = fast->encode_pair(t.get<std::string>(), hyp, 128, sbert::Truncation::OnlyFirst);
      ASSERT_EQ(a.ids, b.ids);
      EXPECT_EQ(a.type_ids, b.type_ids);
      EXPECT_EQ(std::count(a.ids.begin(), a.ids.end(), 2), 3);  // <s> A </s></s> B </s>
    }
  for (const auto& p : g["pairs"]) {
    const Encoding a = converted->encode_pair(p[0].get<std::string>(), p[1].get<std::string>(), 128);
    const Encoding b = fast->encode_pair(p[0].get<std::string>(), p[1].get<std::string>(), 128);
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.type_ids, b.type_ids);
  }
}

TEST(SpmConvert, SentencePieceBackendKeepsSentencePiecesAnswer) {
  SBERT_REQUIRE_SHARED(shared);
  const Xlmr x = xlmr_fixture(shared);
  const auto spm_bad = sentencepiece_mismatches(x);
  EXPECT_EQ(spm_bad.size(), x.golden["spm_plus_offset_mismatches"].get<size_t>());
  // Also chosen over tokenizer.json when asked for.
  TokenizerOptions o;
  o.backend = TokenizerBackend::SentencePiece;
  auto spm = load_tokenizer(shared / "fixtures/models/xlmr-spm-mean-norm", o);
  EXPECT_EQ(spm->describe().rfind("sentencepiece (", 0), 0u) << spm->describe();
  EXPECT_EQ(mismatches(*spm, x.golden["texts"], x.golden["input_ids"], x.max_len), spm_bad);
  // An explicit tokenizer file: converted by default, libsentencepiece with the backend.
  TokenizerOptions f;
  f.tokenizer_file = (x.bare / "sentencepiece.bpe.model").string();
  EXPECT_NE(load_tokenizer(x.bare, f)->describe().find("converted"), std::string::npos);
  f.backend = TokenizerBackend::SentencePiece;
  EXPECT_EQ(load_tokenizer(x.bare, f)->describe().rfind("sentencepiece (", 0), 0u);
}

TEST(SpmConvert, BackendOptionErrors) {
  SBERT_REQUIRE_SHARED(shared);
  EXPECT_EQ(sbert::parse_tokenizer_backend("auto"), TokenizerBackend::Auto);
  EXPECT_EQ(sbert::parse_tokenizer_backend("sentencepiece"), TokenizerBackend::SentencePiece);
  EXPECT_NE(error_of([] { sbert::parse_tokenizer_backend("fast"); }).find("expected auto or sentencepiece"),
            std::string::npos);
  TokenizerOptions o;
  o.backend = TokenizerBackend::SentencePiece;
  const fs::path bert = copy_fixture(shared / "fixtures/models/bert-wordpiece-mean-norm", "spm-convert-bert", {});
  const std::string e = error_of([&] { load_tokenizer(bert, o); });
  EXPECT_NE(e.find("no *.model"), std::string::npos) << e;
  o.tokenizer_file = (bert / "tokenizer.json").string();
  const std::string e2 = error_of([&] { load_tokenizer(bert, o); });
  EXPECT_NE(e2.find("needs a sentencepiece *.model"), std::string::npos) << e2;
}

TEST(SpmConvert, KoBertStaysOnSentencePiece) {
  SBERT_REQUIRE_SHARED(shared);
  auto tok = load_tokenizer(shared / "fixtures/models/bert-kobert-spm");
  EXPECT_EQ(tok->describe().rfind("sentencepiece (", 0), 0u) << tok->describe();
  const auto g = load_json(shared / "fixtures/golden/bert-kobert-spm.json");
  EXPECT_TRUE(mismatches(*tok, g["texts"], g["input_ids"], g.value("max_seq_length", 128)).empty());
}

TEST(SpmConvert, UnconvertedTokenizerClassStaysOnSentencePiece) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path dir = copy_fixture(shared / "fixtures/models/xlmr-spm-mean-norm", "spm-convert-other",
                                    {"tokenizer.json", "tokenizer_config.json"});
  sbert::testing::write_file(dir / "tokenizer_config.json", R"({"tokenizer_class": "SomeOtherTokenizer"})");
  EXPECT_EQ(load_tokenizer(dir)->describe().rfind("sentencepiece (", 0), 0u);
  // No tokenizer_config.json at all: a bare sentencepiece.bpe.model is XLM-R.
  fs::remove(dir / "tokenizer_config.json");
  EXPECT_NE(load_tokenizer(dir)->describe().find("XLMRobertaTokenizer"), std::string::npos);
}

TEST(SpmConvert, CorruptModelIsOneLineError) {
  SBERT_REQUIRE_SHARED(shared);
  const std::string model =
      sbert::testing::read_file(shared / "fixtures/models/xlmr-spm-mean-norm/sentencepiece.bpe.model");
  ASSERT_GT(model.size(), 1000u);
  const fs::path dir = copy_fixture(shared / "fixtures/models/xlmr-spm-mean-norm", "spm-convert-corrupt",
                                    {"tokenizer.json", "sentencepiece.bpe.model"});
  const fs::path file = dir / "sentencepiece.bpe.model";
  auto expect_error = [&](const std::string& bytes, const std::string& want, const std::string& label) {
    sbert::testing::write_file(file, bytes);
    const std::string e = error_of([&] { load_tokenizer(dir); });
    EXPECT_NE(e.find(file.string()), std::string::npos) << label << ": " << e;
    EXPECT_NE(e.find(want), std::string::npos) << label << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << label << ": " << e;
  };
  // Every top-level field is a message, so one byte short always cuts the last one.
  expect_error(model.substr(0, model.size() - 1), "runs past the end", "truncated by one byte");
  expect_error("", "no pieces", "empty");
  expect_error("this is not a sentencepiece model\n", "malformed sentencepiece model", "text");
  expect_error(std::string(16, '\xff'), "malformed sentencepiece model", "0xff bytes");

  // Cut anywhere or damaged anywhere: an sbert::Error or a tokenizer, never a crash.
  for (size_t cut = 0; cut < model.size(); cut += 397) {
    for (int damage = 0; damage < 2; ++damage) {
      std::string bytes = model.substr(0, cut);
      if (damage && !bytes.empty()) bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
      try {
        (void)sbert::tok::parse_spm_model(bytes, "cut");
      } catch (const sbert::Error& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      }
    }
  }
  // A whole model with one damaged byte: an error, or a tokenizer that encodes.
  size_t loaded = 0;
  for (size_t k = 0; k < 60; ++k) {
    std::string bytes = model;
    const size_t at = (k * 7919 + 13) % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ (k % 2 ? 0x80 : 0x3c));
    sbert::testing::write_file(file, bytes);
    try {
      auto tok = load_tokenizer(dir);
      (void)tok->encode("A man is playing a guitar. 한 소녀가 머리를 스타일링하고 있다.");
      ++loaded;
    } catch (const sbert::Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  std::printf("[spm] %zu of 60 one-byte-damaged models still loaded\n", loaded);
}

TEST(SpmConvert, ModelProtoFields) {
  SBERT_REQUIRE_SHARED(shared);
  const auto m = sbert::tok::read_spm_model(shared / "fixtures/models/xlmr-spm-mean-norm/sentencepiece.bpe.model");
  ASSERT_EQ(m.pieces.size(), 4000u);
  EXPECT_EQ(m.pieces[0].piece, "<unk>");
  EXPECT_EQ(m.pieces[0].type, sbert::tok::SpmModelProto::Unknown);
  EXPECT_EQ(m.pieces[1].piece, "<s>");
  EXPECT_EQ(m.pieces[1].type, sbert::tok::SpmModelProto::Control);
  EXPECT_EQ(m.pieces[2].piece, "</s>");
  EXPECT_EQ(m.model_type, sbert::tok::SpmModelProto::Unigram);
  EXPECT_EQ(m.unk_id, 0);
  EXPECT_FALSE(m.precompiled_charsmap.empty());
  EXPECT_TRUE(m.add_dummy_prefix);
  // The scores tokenizer.json carries for the same pieces (fairseq id = piece index + 1).
  const auto tj = load_json(shared / "fixtures/models/xlmr-spm-mean-norm/tokenizer.json");
  const auto& vocab = tj["model"]["vocab"];
  for (size_t i = 3; i < m.pieces.size(); ++i) {
    ASSERT_EQ(vocab[i + 1][0].get<std::string>(), m.pieces[i].piece) << i;
    ASSERT_EQ(vocab[i + 1][1].get<double>(), static_cast<double>(m.pieces[i].score)) << i;
  }
}

// A hand-built ModelProto (protobuf wire format written here) for what the fixture lacks.
std::string varint(uint64_t v) {
  std::string o;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    o.push_back(static_cast<char>(b));
  } while (v);
  return o;
}
std::string field_bytes(int field, const std::string& payload) {
  return varint(static_cast<uint64_t>(field) << 3 | 2) + varint(payload.size()) + payload;
}
std::string piece(const std::string& text, float score, int type) {
  std::string s = field_bytes(1, text);
  uint32_t u;
  std::memcpy(&u, &score, 4);
  s += varint(2 << 3 | 5);
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  s += varint(3 << 3) + varint(static_cast<uint64_t>(type));
  return field_bytes(1, s);
}
std::string tiny_model(int model_type) {
  std::string m;
  m += piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("</s>", 0, 3);
  m += piece("\xE2\x96\x81", -2, 1) + piece("a", -3, 1) + piece("b", -3, 1) + piece("\xE2\x96\x81" "ab", -1, 1);
  m += piece("XY", 0, 4) + piece("<extra>", 0, 3);
  m += field_bytes(2, varint(3 << 3) + varint(static_cast<uint64_t>(model_type)) + varint(40 << 3) + varint(0));
  m += field_bytes(3, field_bytes(1, "identity") + varint(3 << 3) + varint(1));
  return m;
}

TEST(SpmConvert, HandBuiltModelUserDefinedAndControlPieces) {
  const fs::path dir = temp_dir("spm-convert-tiny");
  sbert::testing::write_file(dir / "sentencepiece.bpe.model", tiny_model(1));
  const auto m = sbert::tok::read_spm_model(dir / "sentencepiece.bpe.model");
  ASSERT_EQ(m.pieces.size(), 9u);
  EXPECT_EQ(m.pieces[3].score, -2.0f);
  EXPECT_EQ(m.pieces[7].type, sbert::tok::SpmModelProto::UserDefined);
  EXPECT_EQ(m.normalizer_name, "identity");
  EXPECT_TRUE(m.precompiled_charsmap.empty());

  auto tok = load_tokenizer(dir);
  EXPECT_NE(tok->describe().find("converted"), std::string::npos) << tok->describe();
  // fairseq ids: piece i -> i + 1 from index 3, <mask> last.
  EXPECT_EQ(tok->vocab_size(), 11u);
  EXPECT_EQ(tok->token_to_id("<mask>"), 10);
  EXPECT_EQ(tok->token_to_id("XY"), 8);
  auto ids = [&](const std::string& t) { return tok->encode_plain(t).ids; };
  EXPECT_EQ(ids("ab"), (std::vector<int64_t>{7}));
  EXPECT_EQ(ids("  ab   ab "), (std::vector<int64_t>{7, 7}));
  EXPECT_EQ(ids("ba"), (std::vector<int64_t>{4, 6, 5}));
  // User-defined and control pieces are matched whole in the raw text.
  EXPECT_EQ(ids("abXY"), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(ids("<extra>"), (std::vector<int64_t>{9}));
  const Encoding e = tok->encode("ab<extra>");
  EXPECT_EQ(e.ids, (std::vector<int64_t>{0, 7, 9, 2}));

  // Not a Unigram model: no conversion (libsentencepiece's job).
  sbert::testing::write_file(dir / "bpe.model", tiny_model(2));
  EXPECT_EQ(sbert::tok::convert_spm_model(dir / "bpe.model", dir, ""), nullptr);
}

}  // namespace
