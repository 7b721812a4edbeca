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
  EXPECT_NE(error_of("{" + wp + R"(, "pre_tokenizer": {"type": "CharDelimiterSplit"}})").find("unsupported pre_tokenizer 'CharDelimiterSplit'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "BPE", "vocab": {}, "merges": []}})").find("model 'BPE': \"vocab\" must be a non-empty object"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model": {"type": "Foo", "vocab": {}}})").find("unsupported model 'Foo'"), std::string::npos);
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

// ---- byte-level BPE: Split, ByteLevel, BPE ----
namespace {

Strings to_strings(const std::vector<CharSeq>& pieces) {
  Strings out;
  for (const CharSeq& p : pieces) out.push_back(to_utf8(p));
  return out;
}

Strings pre_tokenize(const PreTokenizer& pt, const std::string& text) {
  std::vector<CharSeq> pieces{decode_utf8(text)};
  pt.split(pieces);
  return to_strings(pieces);
}

TextPattern literal(const std::string& s) {
  TextPattern p;
  for (const Char& c : decode_utf8(s)) p.literal.push_back(c.cp);
  return p;
}

TextPattern regex(const std::string& s) { return {{}, std::make_shared<UnicodeRegex>(s, "test")}; }

// The examples of the reference's SplitDelimiterBehavior documentation.
TEST(SplitPreTokenizer, EveryBehaviorOnTheDocumentationExample) {
  const std::string text = "the-final--countdown";
  auto split = [&](SplitBehavior b, TextPattern p = literal("-")) {
    return pre_tokenize(*make_split_pre_tokenizer(std::move(p), b, false), text);
  };
  EXPECT_EQ(split(SplitBehavior::Removed), (Strings{"the", "final", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::Isolated), (Strings{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::MergedWithPrevious), (Strings{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::MergedWithNext), (Strings{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split(SplitBehavior::Contiguous), (Strings{"the", "-", "final", "--", "countdown"}));
  // The same with a regex pattern.
  EXPECT_EQ(split(SplitBehavior::MergedWithNext, regex("-")), (Strings{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split(SplitBehavior::Isolated, regex("-+")), (Strings{"the", "-", "final", "--", "countdown"}));
}

TEST(SplitPreTokenizer, InvertActsOnTheTextBetweenMatches) {
  // Inverted, the words are the delimiters' complement: the "-" runs are what the behavior acts on.
  auto split = [](SplitBehavior b) {
    return pre_tokenize(*make_split_pre_tokenizer(regex("[a-z]+"), b, true), "the-final--countdown");
  };
  EXPECT_EQ(split(SplitBehavior::Removed), (Strings{"the", "final", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::MergedWithPrevious), (Strings{"the-", "final--", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::MergedWithNext), (Strings{"the", "-final", "--countdown"}));
  // Not inverted, Removed drops the words themselves.
  EXPECT_EQ(pre_tokenize(*make_split_pre_tokenizer(regex("[a-z]+"), SplitBehavior::Removed, false),
                         "the-final--countdown"),
            (Strings{"-", "--"}));
}

TEST(SplitPreTokenizer, UnicodePropertiesAndSpansSurvive) {
  // \s is Unicode whitespace (U+00A0, U+3000) and \p{L} covers Hangul.
  auto pt = make_split_pre_tokenizer(regex("\\s+"), SplitBehavior::Removed, false);
  EXPECT_EQ(pre_tokenize(*pt, "a\xC2\xA0" "b\xE3\x80\x80\xED\x95\x9C"), (Strings{"a", "b", "\xED\x95\x9C"}));
  std::vector<CharSeq> pieces{decode_utf8("ab \xED\x95\x9C")};
  pt->split(pieces);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[1][0].begin, 3u);  // the original byte span of the Hangul syllable
  EXPECT_EQ(pieces[1][0].end, 6u);
}

TEST(ByteLevel, BytesBecomePrintableCharactersWithTheirSpans) {
  auto pt = make_byte_level_pre_tokenizer(true, true);
  // U+0120 (Ġ) stands for the space; é (C3 A9) becomes U+00C3 U+00A9.
  EXPECT_EQ(pre_tokenize(*pt, "Hello world"), (Strings{"\xC4\xA0Hello", "\xC4\xA0world"}));
  std::vector<CharSeq> pieces{decode_utf8("\xC3\xA9!")};
  pt->split(pieces);
  ASSERT_EQ(to_strings(pieces), (Strings{"\xC4\xA0\xC3\x83\xC2\xA9", "!"}));
  EXPECT_EQ(pieces[0][1].begin, 0u);  // both bytes of é keep the span of é
  EXPECT_EQ(pieces[0][2].end, 2u);
  EXPECT_EQ(byte_level_char('\n'), U'\u010A');
  EXPECT_EQ(byte_level_char(0xAD), U'\u0143');  // the last byte that is not printable
  EXPECT_EQ(pre_tokenize(*make_byte_level_pre_tokenizer(false, false), "a b"), (Strings{"a\xC4\xA0" "b"}));
}

ModelPtr bpe(std::unordered_map<std::string, int64_t> vocab,
             std::vector<std::pair<std::string, std::string>> merges, BpeOptions o = {}) {
  return make_bpe_model(std::move(vocab), merges, o, "test.json");
}

Strings bpe_tokens(const Model& m, const std::string& word) {
  std::vector<Token> out;
  m.tokenize(decode_utf8(word), out);
  Strings s;
  for (const Token& t : out) s.push_back(t.value);
  return s;
}

TEST(BpeModel, LowestRankMergesFirstLeftmostOnTies) {
  const std::unordered_map<std::string, int64_t> v = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"aa", 6}};
  EXPECT_EQ(bpe_tokens(*bpe(v, {{"b", "c"}, {"a", "b"}}), "abc"), (Strings{"a", "bc"}));
  EXPECT_EQ(bpe_tokens(*bpe(v, {{"a", "b"}, {"b", "c"}}), "abc"), (Strings{"ab", "c"}));
  EXPECT_EQ(bpe_tokens(*bpe(v, {{"b", "c"}, {"a", "bc"}}), "abc"), (Strings{"abc"}));
  EXPECT_EQ(bpe_tokens(*bpe(v, {{"a", "a"}}), "aaa"), (Strings{"aa", "a"}));
  EXPECT_EQ(bpe_tokens(*bpe(v, {{"a", "b"}}), "ababcab"), (Strings{"ab", "ab", "c", "ab"}));
  // Ids and spans: "bc" is id 4 and covers bytes 1..3.
  std::vector<Token> out;
  bpe(v, {{"b", "c"}})->tokenize(decode_utf8("abc"), out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].id, 4);
  EXPECT_EQ(out[1].begin, 1u);
  EXPECT_EQ(out[1].end, 3u);
}

TEST(BpeModel, ByteFallbackUnknownAndFuse) {
  std::unordered_map<std::string, int64_t> v = {{"<unk>", 0}, {"a", 1}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v[name] = 10 + b;
  }
  BpeOptions o;
  o.unk_token = "<unk>";
  o.byte_fallback = true;
  EXPECT_EQ(bpe_tokens(*bpe(v, {}, o), "a\xC3\xA9"), (Strings{"a", "<0xC3>", "<0xA9>"}));
  // Without the byte tokens, unknown characters become <unk>: one each, or one per run fused.
  const std::unordered_map<std::string, int64_t> small = {{"<unk>", 0}, {"a", 1}};
  o.byte_fallback = false;
  EXPECT_EQ(bpe_tokens(*bpe(small, {}, o), "a\xE2\x82\xAC\xE2\x82\xAC" "a"), (Strings{"a", "<unk>", "<unk>", "a"}));
  o.fuse_unk = true;
  EXPECT_EQ(bpe_tokens(*bpe(small, {}, o), "a\xE2\x82\xAC\xE2\x82\xAC" "a"), (Strings{"a", "<unk>", "a"}));
  // No unk_token: unknown characters are dropped.
  EXPECT_EQ(bpe_tokens(*bpe(small, {}), "a\xE2\x82\xAC" "a"), (Strings{"a", "a"}));
}

TEST(BpeModel, IgnoreMergesPrefixAndSuffix) {
  const std::unordered_map<std::string, int64_t> v = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"abc", 4}};
  BpeOptions o;
  EXPECT_EQ(bpe_tokens(*bpe(v, {{"a", "b"}}, o), "abc"), (Strings{"ab", "c"}));
  o.ignore_merges = true;
  EXPECT_EQ(bpe_tokens(*bpe(v, {{"a", "b"}}, o), "abc"), (Strings{"abc"}));
  EXPECT_EQ(bpe_tokens(*bpe(v, {{"a", "b"}}, o), "cab"), (Strings{"c", "ab"}));
  // continuing_subword_prefix: non-first characters carry it; a merge drops the right one's.
  BpeOptions p;
  p.continuing_subword_prefix = "##";
  const std::unordered_map<std::string, int64_t> pv = {{"a", 0}, {"##b", 1}, {"ab", 2}, {"##a", 3}};
  EXPECT_EQ(bpe_tokens(*bpe(pv, {}, p), "aba"), (Strings{"a", "##b", "##a"}));
  EXPECT_EQ(bpe_tokens(*bpe(pv, {{"a", "##b"}}, p), "aba"), (Strings{"ab", "##a"}));
  BpeOptions s;
  s.end_of_word_suffix = "</w>";
  const std::unordered_map<std::string, int64_t> sv = {{"a", 0}, {"b</w>", 1}, {"ab</w>", 2}};
  EXPECT_EQ(bpe_tokens(*bpe(sv, {{"a", "b</w>"}}, s), "ab"), (Strings{"ab</w>"}));
}

TEST(BpeModel, LongWordIsNotQuadratic) {
  // 4 M characters, one word: each merge costs O(log n).
  const std::unordered_map<std::string, int64_t> v = {{"a", 0}, {"b", 1}, {"ab", 2}, {"abab", 3}};
  auto m = bpe(v, {{"a", "b"}, {"ab", "ab"}});
  std::string word;
  for (int i = 0; i < (1 << 21); ++i) word += "ab";
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Token> out;
  m->tokenize(decode_utf8(word), out);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
  ASSERT_EQ(out.size(), size_t{1} << 20);
  EXPECT_EQ(out.back().value, "abab");
  EXPECT_EQ(out.back().end, word.size());
}

TEST(AddedTokens, LongestFirstThenShorterWhenSingleWordFails) {
  auto added = [](std::string content, int64_t id, bool single_word = false) {
    AddedToken t;
    t.content = std::move(content);
    t.id = id;
    t.single_word = single_word;
    return t;
  };
  // Many tokens sharing a prefix, as Gemma 3's <unusedN>.
  std::vector<AddedToken> toks = {added("<u1>", 10), added("<u12>", 11), added("ab", 12, true), added("a", 13)};
  for (int i = 0; i < 3000; ++i) toks.push_back(added("<u1x" + std::to_string(i) + ">", 100 + i));
  PipelineTokenizer t("test", toks, nullptr, nullptr, bpe({{"x", 0}, {"b", 1}, {"<", 2}, {"u", 3}}, {}), nullptr);
  EXPECT_EQ(t.encode_plain("<u12><u1><u1x2999>").ids, (std::vector<int64_t>{11, 10, 3099}));
  // "ab" must stand alone (single_word): after "x" it does not, so "a" matches instead.
  EXPECT_EQ(t.encode_plain("ab xab").ids, (std::vector<int64_t>{12, 0, 13, 1}));
  EXPECT_EQ(t.encode_plain("<u").ids, (std::vector<int64_t>{2, 3}));  // a prefix of tokens is no token
}

TEST(ByteLevelProcessing, TrimOffsetsLeavesOutSpaces) {
  BpeOptions o;
  o.ignore_merges = true;
  auto make = [&](bool trim) {
    return std::make_unique<PipelineTokenizer>(
        "test", std::vector<AddedToken>{}, nullptr, make_byte_level_pre_tokenizer(false, true),
        bpe({{"hello", 0}, {"\xC4\xA0world", 1}, {"w", 2}}, {}, o), make_byte_level_processing(trim, false));
  };
  const Encoding raw = make(false)->encode("hello world", false);
  EXPECT_EQ(raw.ids, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(raw.offsets[1], (std::pair<size_t, size_t>{5, 11}));
  const Encoding trimmed = make(true)->encode("hello world", true);
  EXPECT_EQ(trimmed.ids, (std::vector<int64_t>{0, 1}));  // adds no tokens
  EXPECT_EQ(trimmed.offsets[0], (std::pair<size_t, size_t>{0, 5}));
  EXPECT_EQ(trimmed.offsets[1], (std::pair<size_t, size_t>{6, 11}));
}

TEST(PatternReplace, RegexMatchesBecomeTheContent) {
  auto n = make_pattern_replace_normalizer(regex("\\s+"), "_");
  CharSeq s = decode_utf8("a \t b\xC2\xA0" "c");
  n->normalize(s, 1000);
  EXPECT_EQ(to_utf8(s), "a_b_c");
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[1].begin, 1u);  // "_" spans the three whitespace bytes it replaced
  EXPECT_EQ(s[1].end, 4u);
  EXPECT_EQ(s[4].begin, 7u);
}

TEST(BadInput, CatastrophicRegexFailsFast) {
  auto pt = make_split_pre_tokenizer(regex("(a+)+$"), SplitBehavior::Isolated, false);
  const std::string text = std::string(100000, 'a') + "b";
  const auto t0 = std::chrono::steady_clock::now();
  const std::string err = sbert::testing::error_of([&] { pre_tokenize(*pt, text); });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 10.0);
  // It either finishes (PCRE2 may optimize the pattern) or reports the limit, naming the pattern.
  if (err != "<no sbert::Error>") {
    EXPECT_NE(err.find("(a+)+$"), std::string::npos) << err;
    EXPECT_NE(err.find("limit"), std::string::npos) << err;
  }
  std::printf("[ regex    ] (a+)+$ on 100k a + b: %.2f s, %s\n", s, err.c_str());
}

TEST(BadInput, BpeTokenizerJsonErrorsNameTheFile) {
  const std::string bpe_model = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"], ["a", "x"]]})";
  std::string err = error_of("{" + bpe_model + "}");
  EXPECT_NE(err.find("tokenizer.json: model 'BPE': merges[1]"), std::string::npos) << err;
  EXPECT_NE(err.find("'x' is not in the vocabulary"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  err = error_of(R"({"model": {"type": "BPE", "dropout": 0.1, "vocab": {"a": 0}, "merges": []}})");
  EXPECT_NE(err.find("tokenizer.json: model 'BPE': dropout 0.1"), std::string::npos) << err;
  err = error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})");
  EXPECT_NE(err.find("merges[0]"), std::string::npos) << err;  // "ab" is not in the vocabulary
  const std::string ok_model = R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []})";
  err = error_of("{" + ok_model + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(ab"}, "behavior": "Isolated"}})");
  EXPECT_NE(err.find("tokenizer.json: pre_tokenizer 'Split': invalid regex '(ab'"), std::string::npos) << err;
  EXPECT_NE(err.find("missing closing parenthesis"), std::string::npos) << err;  // PCRE2's message
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  // A pattern holding a newline is shown escaped: the message stays one line.
  err = error_of("{" + ok_model + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a\n(b"}, "behavior": "Isolated"}})");
  EXPECT_NE(err.find("invalid regex 'a\\n(b'"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  err = error_of("{" + ok_model + R"(, "normalizer": {"type": "Replace", "pattern": {"Regex": "[z-a]"}, "content": ""}})");
  EXPECT_NE(err.find("normalizer 'Replace': invalid regex '[z-a]'"), std::string::npos) << err;
  err = error_of("{" + ok_model + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"String": "-"}, "behavior": "Sideways"}})");
  EXPECT_NE(err.find("unknown behavior 'Sideways'"), std::string::npos) << err;
  // A merge that is neither ["a", "b"] nor "a b" (the streaming reader hands it to the plain one).
  for (const std::string bad : {R"([["a"]])", R"(["ab"])", R"([["a", 1]])", R"([["a", ["b"]]])"}) {
    err = error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": )" + bad + "}}");
    EXPECT_NE(err.find("tokenizer.json: model 'BPE': merges[0] is not"), std::string::npos) << bad << ": " << err;
  }
  err = error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0.5}, "merges": []}})");
  EXPECT_NE(err.find("vocab id of 'a' is not an integer"), std::string::npos) << err;
  // Both merge formats, either key order and the decoders load.
  for (const std::string model :
       {R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]})",
        R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})",
        R"({"merges": [["a", "b"]], "vocab": {"a": 0, "b": 1, "ab": 2}, "type": "BPE"})"}) {
    auto dir = sbert::testing::temp_dir("bpe_ok");
    sbert::testing::write_file(dir / "tokenizer.json",
                               R"({"model": )" + model +
                                   R"(, "decoder": {"type": "ByteLevel"}, "post_processor": {"type": "Sequence", "processors": [{"type": "ByteLevel"}]}})");
    EXPECT_EQ(sbert::load_tokenizer(dir)->encode("ab", true).ids, (std::vector<int64_t>{2})) << model;
  }
}

}  // namespace
