// Unit tests of the tokenizer components on small hand-made vocabularies; expected values are
// worked out by hand (or from the Unicode standard), not produced by the code under test.
#include <chrono>
#include <fstream>

#include "sbert/error.h"
#include "sbert/tokenizer.h"
#include "test_support.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/precompiled_charsmap.h"
#include "tokenizer/spm_library.h"

namespace {

using namespace sbert::tok;
using sbert::Encoding;
using sbert::Truncation;
using Strings = std::vector<std::string>;

std::unique_ptr<PipelineTokenizer> bert(Strings vocab, bool lowercase = true) {
  BertNormalizerOptions n;
  n.lowercase = lowercase;
  std::vector<AddedToken> added;
  for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]"}) {
    AddedToken t;
    t.content = s;
    t.id = std::find(vocab.begin(), vocab.end(), s) - vocab.begin();
    added.push_back(t);
  }
  const int64_t cls = std::find(vocab.begin(), vocab.end(), "[CLS]") - vocab.begin();
  const int64_t sep = std::find(vocab.begin(), vocab.end(), "[SEP]") - vocab.begin();
  return std::make_unique<PipelineTokenizer>("test", added, make_bert_normalizer(n), make_bert_pre_tokenizer(),
                                             make_wordpiece_model(vocab, "[UNK]"),
                                             make_bert_processing({"[CLS]", cls}, {"[SEP]", sep}));
}

const Strings kVocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "cafe", "un", "una", "##aff",
                        "##able", "a", "##a", ",", "!", "中", "文", "ab", "hi", "there", "\xE1\x84\x92",
                        "##\xE1\x85\xA1", "##\xE1\x86\xAB", "x", "##x"};

TEST(BasicTokenizer, CleanupDropsControlsAndMapsWhitespace) {
  auto t = bert(kVocab);
  // NUL, U+FFFD, a C0 control and a zero-width space vanish; NBSP and tab separate words.
  EXPECT_EQ(t->encode_plain(std::string("hel\x01lo\xC2\xA0wor\xEF\xBF\xBDld\tHELLO") + '\0' + "\xE2\x80\x8B").tokens,
            (Strings{"hello", "world", "hello"}));
}

TEST(BasicTokenizer, CjkIdeographsAreSingleTokens) {
  auto t = bert(kVocab);
  EXPECT_EQ(t->encode_plain("ab中文ab").tokens, (Strings{"ab", "中", "文", "ab"}));
}

TEST(BasicTokenizer, LowercaseStripsAccentsAndDecomposesHangul) {
  auto t = bert(kVocab);
  EXPECT_EQ(t->encode_plain("Café CAFÉ").tokens, (Strings{"cafe", "cafe"}));
  // U+D55C (han) = U+1112 U+1161 U+11AB under canonical decomposition.
  EXPECT_EQ(t->encode_plain("한").tokens, (Strings{"\xE1\x84\x92", "##\xE1\x85\xA1", "##\xE1\x86\xAB"}));
  // Cased: no accent stripping, so "Café" is unknown.
  auto cased = bert(kVocab, false);
  EXPECT_EQ(cased->encode_plain("Café hello").tokens, (Strings{"[UNK]", "hello"}));
}

TEST(BasicTokenizer, PunctuationIsSplitOff) {
  auto t = bert(kVocab);
  EXPECT_EQ(t->encode_plain("hi,there!hello").tokens, (Strings{"hi", ",", "there", "!", "hello"}));
}

TEST(BasicTokenizer, OffsetsAreBytesOfTheOriginalText) {
  auto t = bert(kVocab);
  const std::string text = "  Café,hello";  // C a f é(2 bytes) , h...
  Encoding e = t->encode_plain(text);
  ASSERT_EQ(e.tokens, (Strings{"cafe", ",", "hello"}));
  EXPECT_EQ(e.offsets[0], std::make_pair(size_t{2}, size_t{7}));
  EXPECT_EQ(e.offsets[1], std::make_pair(size_t{7}, size_t{8}));
  EXPECT_EQ(e.offsets[2], std::make_pair(size_t{8}, size_t{13}));
}

TEST(BasicTokenizer, SpecialTokensInTextStayWhole) {
  auto t = bert(kVocab);
  EXPECT_EQ(t->encode_plain("hi [SEP]hello [CLS]").ids, (std::vector<int64_t>{18, 3, 4, 2}));
}

TEST(WordPiece, GreedyLongestMatchFirst) {
  auto t = bert({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "##a"});
  EXPECT_EQ(t->encode_plain("unaffable").tokens, (Strings{"un", "##aff", "##able"}));
  // "una" is the longest prefix; when "##ffable" is then not in the vocabulary the whole word is
  // unknown (greedy, no backtracking to "un").
  auto t2 = bert({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "una", "un", "##aff", "##ffable"});
  EXPECT_EQ(t2->encode_plain("unaffable").tokens, (Strings{"una", "##ffable"}));
  auto t3 = bert({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "una", "un", "##aff", "##able"});
  EXPECT_EQ(t3->encode_plain("unaffable").tokens, (Strings{"[UNK]"}));
}

TEST(WordPiece, LongWordsBecomeUnknown) {
  auto t = bert(kVocab);
  EXPECT_EQ(t->encode_plain(std::string(100, 'x')).size(), 100u);
  EXPECT_EQ(t->encode_plain(std::string(101, 'x')).tokens, (Strings{"[UNK]"}));
  // Characters, not bytes: 60 two-byte letters are 60 characters.
  std::string e60;
  for (int i = 0; i < 60; ++i) e60 += "\xC3\xA9";
  auto cased = bert(kVocab, false);
  EXPECT_EQ(cased->encode_plain(e60).tokens, (Strings{"[UNK]"}));
}

TEST(Truncation, LongestFirstMatchesTheTokenizersLibrary) {
  auto t = bert(kVocab);
  const std::string a10 = "x x x x x x x x x x", b2 = "a a", b10 = a10;
  // total 12 > room 8 (11 - 3): the shorter side (2) is kept, the longer gets 6.
  Encoding e = t->encode_pair(a10, b2, 11);
  EXPECT_EQ(e.size(), 11u);
  EXPECT_EQ(std::count(e.type_ids.begin(), e.type_ids.end(), 1), 3);  // 2 tokens + [SEP]
  // Equal lengths, odd room 7: first gets 3, second 4.
  e = t->encode_pair(a10, b10, 10);
  EXPECT_EQ(std::count(e.type_ids.begin(), e.type_ids.end(), 0), 1 + 3 + 1);
  EXPECT_EQ(std::count(e.type_ids.begin(), e.type_ids.end(), 1), 4 + 1);
  // Single text: truncated to max_length including [CLS]/[SEP].
  e = t->encode(a10, true, 5);
  EXPECT_EQ(e.tokens, (Strings{"[CLS]", "x", "x", "x", "[SEP]"}));
}

TEST(Truncation, OnlyFirstAndOnlySecond) {
  auto t = bert(kVocab);
  const std::string a6 = "x x x x x x", b3 = "a a a";
  Encoding e = t->encode_pair(a6, b3, 9, Truncation::OnlyFirst);  // room 6: first keeps 3
  EXPECT_EQ(std::count(e.type_ids.begin(), e.type_ids.end(), 0), 5);
  e = t->encode_pair(b3, a6, 9, Truncation::OnlySecond);
  EXPECT_EQ(std::count(e.type_ids.begin(), e.type_ids.end(), 1), 4);
  // The first text is too short to absorb the cut: an error, as in Hugging Face.
  EXPECT_THROW(t->encode_pair(b3, a6, 7, Truncation::OnlyFirst), sbert::Error);
}

// Unigram with Metaspace, on a five-piece vocabulary.
std::unique_ptr<PipelineTokenizer> unigram(std::vector<UnigramPiece> pieces, bool byte_fallback = false) {
  return std::make_unique<PipelineTokenizer>(
      "test", std::vector<AddedToken>{}, nullptr,
      make_metaspace_pre_tokenizer(U'\u2581', PrependScheme::Always, true),
      make_unigram_model(std::move(pieces), 0, byte_fallback), nullptr);
}

TEST(Unigram, ViterbiPicksTheBestScoringSegmentation) {
  const std::string sp = "\xE2\x96\x81";
  auto t = unigram({{"<unk>", 0}, {sp + "ab", -1}, {sp + "a", -2}, {"b", -2}, {"c", -1}, {sp, -3}});
  EXPECT_EQ(t->encode_plain("ab").tokens, (Strings{sp + "ab"}));  // -1 beats -2 + -2
  auto t2 = unigram({{"<unk>", 0}, {sp + "ab", -5}, {sp + "a", -2}, {"b", -2}, {sp, -3}});
  EXPECT_EQ(t2->encode_plain("ab").tokens, (Strings{sp + "a", "b"}));  // -4 beats -5
  EXPECT_EQ(t2->encode_plain("ab").ids, (std::vector<int64_t>{2, 3}));
}

TEST(Unigram, UnknownCharactersAreFusedAndCanFallBackToBytes) {
  const std::string sp = "\xE2\x96\x81";
  auto t = unigram({{"<unk>", 0}, {sp, -1}, {"a", -1}});
  // "▁" "a" then two unknown characters fused into one <unk>.
  EXPECT_EQ(t->encode_plain("azz").ids, (std::vector<int64_t>{1, 2, 0}));
  auto b = unigram({{"<unk>", 0}, {sp, -1}, {"a", -1}, {"<0x7A>", -1}}, true);
  EXPECT_EQ(b->encode_plain("az").ids, (std::vector<int64_t>{1, 2, 3}));
}

TEST(PrecompiledCharsmap, XlmrTableMapsCompatibilityCharacters) {
  SBERT_REQUIRE_SHARED(shared);
  const auto j = sbert::testing::load_json(shared / "fixtures/models/xlmr-spm-mean-norm/tokenizer.json");
  PrecompiledCharsmap map(base64_decode(j["normalizer"]["precompiled_charsmap"].get<std::string>()));
  ASSERT_FALSE(map.empty());
  // NFKC: fullwidth A -> A, the fi ligature -> "fi", circled one -> "1"; plain ASCII is not in the table.
  EXPECT_EQ(map.transform("\xEF\xBC\xA1").value_or("?"), "A");
  EXPECT_EQ(map.transform("\xEF\xAC\x81").value_or("?"), "fi");
  EXPECT_EQ(map.transform("\xE2\x91\xA0").value_or("?"), "1");
  EXPECT_FALSE(map.transform("a").has_value());
  EXPECT_THROW(PrecompiledCharsmap(std::string("\xFF\xFF\x00\x00", 4)), sbert::Error);
}

TEST(SentencePiece, FairseqOffsetOnTheTinyXlmrModel) {
  SBERT_REQUIRE_SHARED(shared);
  const auto model = shared / "tokenizers/xlmr-tiny-spm/xlmr-tiny-spm.model";
  SpmProcessor sp;  // libsentencepiece itself
  sp.load(model.string());
  sbert::TokenizerOptions o;
  o.tokenizer_file = model.string();
  auto tok = sbert::load_tokenizer(model.parent_path(), o);
  for (const std::string text : {"A man is playing a guitar.", "한 남자가 기타를 치고 있다.", "zzz \xF0\x9F\x98\x80"}) {
    std::vector<int64_t> want{0};
    for (const SpmPiece& p : sp.encode(text)) want.push_back(p.id == sp.unk_id() ? 3 : p.id + 1);
    want.push_back(2);
    EXPECT_EQ(tok->encode(text).ids, want) << text;
  }
  Encoding p = tok->encode_pair("a", "b");
  EXPECT_EQ(p.ids.front(), 0);
  EXPECT_EQ(std::count(p.ids.begin(), p.ids.end(), 2), 3);  // <s> a </s></s> b </s>
  EXPECT_EQ(tok->pad_id(), 1);
  EXPECT_EQ(tok->token_to_id("<mask>").value_or(-1), sp.piece_size() + 1);
}

// ---- bad input ----

TEST(BadInput, FolderWithoutTokenizer) {
  auto dir = sbert::testing::temp_dir("tok_empty");
  try {
    sbert::load_tokenizer(dir);
    FAIL() << "no error";
  } catch (const sbert::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(dir.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("tokenizer.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("vocab.txt"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

std::string error_of(const std::string& tokenizer_json) {
  auto dir = sbert::testing::temp_dir("tok_bad");
  sbert::testing::write_file(dir / "tokenizer.json", tokenizer_json);
  try {
    sbert::load_tokenizer(dir);
  } catch (const sbert::Error& e) {
    return e.what();
  }
  return "";
}

TEST(BadInput, MalformedAndUnsupportedTokenizerJson) {
  EXPECT_NE(error_of("{\"model\": ").find("malformed JSON"), std::string::npos);
  const std::string wp = R"("model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}})";
  EXPECT_NE(error_of("{" + wp + R"(, "normalizer": {"type": "Foo"}})").find("unsupported normalizer 'Foo'"),
            std::string::npos);
  EXPECT_NE(error_of("{" + wp + R"(, "pre_tokenizer": {"type": "ByteLevel"}})").find("unsupported pre_tokenizer 'ByteLevel'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "BPE", "vocab": {}, "merges": []}})").find("unsupported model 'BPE'"),
            std::string::npos);
  EXPECT_NE(error_of("{" + wp + R"(, "post_processor": {"type": "Bar"}})").find("unsupported post_processor 'Bar'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"a": 0}}})").find("[UNK]"),
            std::string::npos);
  // Wrong value types are reported, not crashed on.
  EXPECT_NE(error_of(R"({"model": {"type": "Unigram", "vocab": [["a", "x"]]}})").find("vocab entry 0"),
            std::string::npos);
  EXPECT_FALSE(error_of("[1, 2]").empty());
  // Integer fields written as floats out of range (an undefined cast with json.get<int64_t>())
  // are one-line errors naming the file and the field.
  for (const std::string& bad :
       {"{" + wp + R"(, "added_tokens": [{"id": 1.2e27, "content": "[X]"}]})",
        "{" + wp + R"(, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[X]"}}], "pair": [], "special_tokens": {"[X]": {"ids": [1e300], "tokens": ["[X]"]}}}})",
        std::string(R"({"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0}, "max_input_chars_per_word": -1e30}})")}) {
    const std::string msg = error_of(bad);
    EXPECT_NE(msg.find("tokenizer.json: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("must be an integer in ["), std::string::npos) << msg;
  }
}

// Issue 32 #11: a normalizer that multiplies the text is stopped at a bound (16x by default,
// configurable), with one line naming the file; long component lists are refused at load.
namespace {

std::string replace_chain(size_t n) {
  std::string normalizers;
  for (size_t i = 0; i < n; ++i)
    normalizers += std::string(i ? ", " : "") + R"({"type": "Replace", "pattern": {"String": "o"}, "content": "oo"})";
  return R"({"normalizer": {"type": "Sequence", "normalizers": [)" + normalizers +
         R"(]}, "pre_tokenizer": {"type": "WhitespaceSplit"},
             "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "foo": 1}}})";
}

}  // namespace

TEST(BadInput, NormalizerGrowthIsBounded) {
  auto dir = sbert::testing::temp_dir("tok_growth");
  const auto file = dir / "tokenizer.json";
  sbert::testing::write_file(file, replace_chain(40));  // 2^40 times every 'o' unbounded
  auto tok = sbert::load_tokenizer(dir);
  std::string msg;
  try {
    tok->encode("foo " + std::string(1000, 'o'));
  } catch (const sbert::Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find(file.string() + ": the normalizer makes a text of 1004 characters longer than 16064 (16x"),
            std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  // Growth within the bound is untouched: 3 doublings are 8x.
  sbert::testing::write_file(file, replace_chain(3));
  EXPECT_EQ(sbert::load_tokenizer(dir)->encode("foo").size(), 1u);  // "foooooooooooooooo" -> [UNK]
  // The bound is an option: 4x refuses what 16x allowed; 0 removes it.
  sbert::TokenizerOptions o;
  o.max_normalized_growth = 4;
  EXPECT_THROW(sbert::load_tokenizer(dir, o)->encode(std::string(16, 'o')), sbert::Error);  // 128 > 64
  EXPECT_EQ(sbert::load_tokenizer(dir, o)->encode("foo bar").size(), 2u);  // 17 + 1 + 3 <= 64
  o.max_normalized_growth = 0;
  sbert::testing::write_file(file, replace_chain(12));
  EXPECT_EQ(sbert::load_tokenizer(dir, o)->encode("o").size(), 1u);  // 4096 'o's: one word
  // Short inputs count as 16 characters: a 1-character text may still grow to 256.
  o.max_normalized_growth = 16;
  sbert::testing::write_file(file, replace_chain(8));
  EXPECT_EQ(sbert::load_tokenizer(dir, o)->encode("o").size(), 1u);
  sbert::testing::write_file(file, replace_chain(9));
  EXPECT_THROW(sbert::load_tokenizer(dir, o)->encode("o"), sbert::Error);
}

TEST(BadInput, NormalizerStepsBoundedOneByOne) {
  // Each kind of normalizer that lengthens text checks as it grows.
  CharSeq s = decode_utf8(std::string(10, 'o'));
  auto replace = make_replace_normalizer("o", std::string(100, 'x'));
  EXPECT_THROW(replace->normalize(s, 999), NormalizedTooLong);
  EXPECT_EQ(s.size(), 10u);  // unchanged when refused
  replace->normalize(s, 1000);
  EXPECT_EQ(s.size(), 1000u);
  CharSeq t = decode_utf8("ab");
  EXPECT_THROW(make_prepend_normalizer(std::string(50, 'p'))->normalize(t, 51), NormalizedTooLong);
  CharSeq cjk = decode_utf8("\xE4\xB8\xAD\xE4\xB8\xAD");  // 中中: each becomes " 中 "
  BertNormalizerOptions bo;
  EXPECT_THROW(make_bert_normalizer(bo)->normalize(cjk, 5), NormalizedTooLong);
  CharSeq lig = decode_utf8("\xEF\xB7\xBA");  // U+FDFA: 18 code points under NFKD
  EXPECT_THROW(make_unicode_normalizer(NormForm::NFKD)->normalize(lig, 17), NormalizedTooLong);
  make_unicode_normalizer(NormForm::NFKD)->normalize(lig, 18);
  EXPECT_EQ(lig.size(), 18u);
}

TEST(BadInput, ComponentListsAreBounded) {
  const std::string wp = R"("model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}})";
  auto lowercases = [](size_t n) {
    std::string list;
    for (size_t i = 0; i < n; ++i) list += std::string(i ? "," : "") + R"({"type": "Lowercase"})";
    return list;
  };
  std::string msg = error_of("{" + wp + R"(, "normalizer": {"type": "Sequence", "normalizers": [)" + lowercases(257) + "]}}");
  EXPECT_NE(msg.find("tokenizer.json: normalizer 'Sequence': more than 256 entries"), std::string::npos) << msg;
  EXPECT_EQ(error_of("{" + wp + R"(, "normalizer": {"type": "Sequence", "normalizers": [)" + lowercases(256) + "]}}"), "");
  // Counted through nested Sequences: 2 x 200.
  const std::string inner = R"({"type": "Sequence", "normalizers": [)" + lowercases(200) + "]}";
  msg = error_of("{" + wp + R"(, "normalizer": {"type": "Sequence", "normalizers": [)" + inner + "," + inner + "]}}");
  EXPECT_NE(msg.find("more than 256 entries"), std::string::npos) << msg;
  std::string pres;
  for (size_t i = 0; i < 300; ++i) pres += std::string(i ? "," : "") + R"({"type": "Whitespace"})";
  msg = error_of("{" + wp + R"(, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [)" + pres + "]}}");
  EXPECT_NE(msg.find("pre_tokenizer 'Sequence': more than 256"), std::string::npos) << msg;
  std::string ids;
  for (size_t i = 0; i < 300; ++i) ids += std::string(i ? "," : "") + "1";
  msg = error_of("{" + wp + R"(, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "X"}}], "pair": [], "special_tokens": {"X": {"ids": [)" + ids + "]}}}}");
  EXPECT_NE(msg.find("special token 'X' has 300 ids"), std::string::npos) << msg;
}

TEST(BadInput, TenMegabyteWordIsOneUnknownAndFast) {
  auto t = bert(kVocab);
  const auto start = std::chrono::steady_clock::now();
  Encoding e = t->encode(std::string(10 << 20, 'x'));
  EXPECT_EQ(e.tokens, (Strings{"[CLS]", "[UNK]", "[SEP]"}));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 60.0);  // wall clock on a shared machine
  // 1 MB of ordinary words, truncated.
  std::string words;
  while (words.size() < (1 << 20)) words += "hello world ";
  EXPECT_EQ(t->encode(words, true, 128).size(), 128u);
}

TEST(BadInput, InvalidUtf8IsReplacedNotFatal) {
  auto t = bert(kVocab);
  // U+FFFD is dropped by BERT's cleanup, so invalid bytes vanish; offsets stay within the text.
  const std::string text = "hello\xFF\xC3world \xE2\x82";
  Encoding e = t->encode_plain(text);
  EXPECT_EQ(e.tokens, (Strings{"[UNK]"}));  // "helloworld" is one word, not in the vocabulary
  for (auto [b, en] : e.offsets) EXPECT_LE(en, text.size());
  EXPECT_EQ(t->encode_plain("hello\xFF world").tokens, (Strings{"hello", "world"}));
}

}  // namespace

TEST(TokenizerFile, BareRelativeNameLoads) {
  SBERT_REQUIRE_SHARED(shared);
  const auto model = shared / "tokenizers/xlmr-tiny-spm/xlmr-tiny-spm.model";
  auto dir = sbert::testing::temp_dir("bare_name");
  std::filesystem::copy_file(model, dir / "spm.model");
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  sbert::TokenizerOptions o;
  o.tokenizer_file = "spm.model";  // no "./": its parent path is empty
  std::string err = sbert::testing::error_of([&] { sbert::load_tokenizer("", o); });
  std::filesystem::current_path(cwd);
  EXPECT_EQ(err, "<no sbert::Error>");
}
