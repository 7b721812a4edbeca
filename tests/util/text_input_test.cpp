#include "sbert/text_input.h"

#include "sbert/error.h"
#include "test_support.h"

using namespace sbert;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {
std::vector<Record> read_all(const std::string& path, ReaderOptions opts, RecordReader** keep = nullptr) {
  RecordReader reader({path}, opts);
  std::vector<Record> out;
  Record r;
  while (reader.next(r)) out.push_back(r);
  return out;
}
}  // namespace

TEST(TextInput, LinesKeepEmptyLinesAndStripCR) {
  auto dir = temp_dir("lines");
  write_file(dir / "a.txt", "first\r\n\nthird\n");
  auto recs = read_all((dir / "a.txt").string(), {});
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].fields[0], "first");
  EXPECT_EQ(recs[1].fields[0], "");
  EXPECT_EQ(recs[2].fields[0], "third");
  EXPECT_EQ(recs[2].line, 3u);
}

TEST(TextInput, CsvQuotedFieldsWithNewlinesAndCommas) {
  auto dir = temp_dir("csv");
  write_file(dir / "a.csv", "id,text\n1,\"hello, world\"\n2,\"two\nlines \"\"quoted\"\"\"\n3,plain\n");
  ReaderOptions opts;
  RecordReader reader({(dir / "a.csv").string()}, opts);
  Record r;
  std::vector<Record> recs;
  while (reader.next(r)) recs.push_back(r);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(reader.columns(), (std::vector<std::string>{"id", "text"}));
  EXPECT_EQ(recs[0].fields[1], "hello, world");
  EXPECT_EQ(recs[1].fields[1], "two\nlines \"quoted\"");
  EXPECT_EQ(recs[1].line, 3u);
  EXPECT_EQ(recs[2].line, 5u);
  FieldSelector sel("text", "text column");
  EXPECT_EQ(sel.get(recs[2], reader), "plain");
}

TEST(TextInput, RaggedCsvRowIsAnErrorNamingTheLine) {
  auto dir = temp_dir("ragged");
  write_file(dir / "a.csv", "a,b\n1,2\n3\n");
  try {
    read_all((dir / "a.csv").string(), {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("a.csv:3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected 2 columns"), std::string::npos) << msg;
  }
}

// RFC 4180 allows newlines inside quotes, so only the end of the file inside a quote is an
// error; it names the line where the quote opened instead of returning one text that swallowed
// the rest of the file.
TEST(TextInput, UnterminatedCsvQuoteIsAnErrorNamingTheLineItOpened) {
  auto dir = temp_dir("unterminated");
  write_file(dir / "a.csv", "text\nfine\n\"closed\nover two lines\"\n\"unterminated\nsecond\nthird\n");
  try {
    auto recs = read_all((dir / "a.csv").string(), {});
    FAIL() << "expected an error, got " << recs.size() << " records";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("a.csv:5: the quote opened on this line is never closed"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 lines"), std::string::npos) << msg;
  }
  // Without a header, and with the quote opening mid-row.
  write_file(dir / "b.csv", "a,b\n1,\"x\n");
  ReaderOptions opts;
  opts.header = false;
  EXPECT_THROW(
      {
        try {
          read_all((dir / "b.csv").string(), opts);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("b.csv:2: the quote opened on this line is never closed"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  // A quoted field that closes on the last line, without a final newline, is fine.
  write_file(dir / "c.csv", "text\n\"two\nlines\"");
  auto recs = read_all((dir / "c.csv").string(), {});
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].fields[0], "two\nlines");
}

TEST(TextInput, MissingColumnListsTheColumns) {
  auto dir = temp_dir("missing");
  write_file(dir / "a.tsv", "x\ty\nfoo\tbar\n");
  RecordReader reader({(dir / "a.tsv").string()}, {});
  Record r;
  ASSERT_TRUE(reader.next(r));
  FieldSelector sel("sentence1", "text column");
  try {
    sel.get(r, reader);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("columns: x, y"), std::string::npos) << e.what();
  }
  EXPECT_EQ(FieldSelector("1", "c").get(r, reader), "bar");
}

TEST(TextInput, TsvWithoutHeaderIgnoresQuotes) {
  auto dir = temp_dir("tsv");
  write_file(dir / "a.tsv", "g\t\"unbalanced\tb\n");
  ReaderOptions opts;
  opts.header = false;
  RecordReader reader({(dir / "a.tsv").string()}, opts);
  Record r;
  ASSERT_TRUE(reader.next(r));
  ASSERT_EQ(r.fields.size(), 3u);
  EXPECT_EQ(r.fields[1], "\"unbalanced");
}

TEST(TextInput, JsonlFieldsAndErrors) {
  auto dir = temp_dir("jsonl");
  write_file(dir / "a.jsonl", "{\"text\": \"hi\", \"id\": 7}\n\n{\"text\": \"yo\"}\nnot json\n");
  RecordReader reader({(dir / "a.jsonl").string()}, {});
  Record r;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(FieldSelector("", "t").get(r, reader), "hi");
  EXPECT_EQ(FieldSelector("id", "id").get(r, reader), "7");
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.line, 3u);
  try {
    reader.next(r);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a.jsonl:4"), std::string::npos) << e.what();
  }
}

TEST(TextInput, MissingFileIsAnError) {
  EXPECT_THROW(read_all("/nonexistent/file.txt", {}), Error);
}

TEST(TextInput, EmptyFileHasNoRecords) {
  auto dir = temp_dir("empty");
  write_file(dir / "a.txt", "");
  EXPECT_TRUE(read_all((dir / "a.txt").string(), {}).empty());
}

TEST(Utf8, InvalidBytesAreReplacedAndCounted) {
  std::string s = "ok\xff\xfe mid \xe2\x82 end \xed\xa0\x80";
  size_t n = sanitize_utf8(s);
  EXPECT_EQ(n, 2u + 2u + 3u);
  EXPECT_EQ(s.find('\xff'), std::string::npos);
  std::string valid = "한국어 naïve";
  EXPECT_EQ(sanitize_utf8(valid), 0u);
  EXPECT_EQ(valid, "한국어 naïve");
}

TEST(Utf8, InvalidUtf8InInputIsCounted) {
  auto dir = temp_dir("bad");
  write_file(dir / "a.txt", "a\xffz\n");
  RecordReader reader({(dir / "a.txt").string()}, {});
  Record r;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.fields[0], "a\xEF\xBF\xBDz");
  EXPECT_EQ(reader.invalid_utf8_replaced(), 1u);
}
