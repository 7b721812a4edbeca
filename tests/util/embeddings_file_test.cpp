#include <gtest/gtest.h>

#include "sbert/embeddings_file.h"
#include "sbert/error.h"
#include "sbert/npy.h"
#include "test_support.h"

namespace sbert {
namespace {

using testing::temp_dir;
using testing::write_file;

std::string error_of(const std::string& path) {
  try {
    read_embeddings(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(EmbeddingsFile, ReadsSbertEmbedJsonl) {
  auto dir = temp_dir("embfile");
  auto p = (dir / "e.jsonl").string();
  write_file(p, "{\"index\": 0, \"text\": \"a\", \"embedding\": [1, 2.5]}\n"
                "\n"
                "{\"index\": 1, \"text\": \"b\", \"embedding\": [-3, 4e-1]}\n");
  auto f = read_embeddings(p);
  EXPECT_EQ(f.vectors.rows, 2u);
  EXPECT_EQ(f.vectors.cols, 2u);
  EXPECT_FLOAT_EQ(f.vectors.at(1, 0), -3.0f);
  EXPECT_FLOAT_EQ(f.vectors.at(1, 1), 0.4f);
  EXPECT_EQ(f.texts, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(f.ids.empty());
}

TEST(EmbeddingsFile, ReadsNpyAndSniffsWithoutExtension) {
  auto dir = temp_dir("embfile");
  Matrix m(3, 2);
  m.data = {1, 2, 3, 4, 5, 6};
  write_npy((dir / "m.npy").string(), m);
  EXPECT_EQ(read_embeddings((dir / "m.npy").string()).vectors.data, m.data);
  std::filesystem::copy_file(dir / "m.npy", dir / "m.bin");
  EXPECT_EQ(read_embeddings((dir / "m.bin").string()).vectors.data, m.data);
}

// Every format `sbert embed` writes (but the projector folder) reads back as the same matrix.
TEST(EmbeddingsFile, ReadsBackEveryFormatTheWriterWrites) {
  auto dir = temp_dir("embfile-roundtrip");
  Matrix m(3, 4);
  m.data = {0.5f, -1.25f, 3e-8f, 7.0f, 1, 2, 3, 4, -0.1f, 0.2f, -0.3f, 1e10f};
  std::vector<EmbeddingLabels> labels{{"a1", "first, \"quoted\"", {}}, {"b2", "second", {}}, {"c3", "third", {}}};
  for (const char* name : {"jsonl", "csv", "tsv", "npy", "f32"}) {
    EmbeddingWriterOptions o;
    o.format = parse_embedding_format(name);
    o.path = (dir / (std::string("v.") + name)).string();
    o.with_id = o.with_text = true;
    EmbeddingWriter w(o);
    w.write(m, labels);
    w.finish(m.cols);
    EmbeddingsFile f = read_embeddings(o.path);
    EXPECT_EQ(f.vectors.rows, 3u) << name;
    EXPECT_EQ(f.vectors.cols, 4u) << name;
    EXPECT_EQ(f.vectors.data, m.data) << name;
    if (std::string(name) == "jsonl" || std::string(name) == "csv" || std::string(name) == "tsv") {
      EXPECT_EQ(f.ids, (std::vector<std::string>{"a1", "b2", "c3"})) << name;
      EXPECT_EQ(f.texts.size(), 3u) << name;
    }
  }
  // The f32 sidecar is what gives the raw file its shape.
  EXPECT_EQ(testing::read_file(dir / "v.f32.json"),
            "{\"rows\": 3, \"dimension\": 4, \"dtype\": \"float32\", \"byte_order\": \"little\"}\n");
}

TEST(EmbeddingsFile, F32WithoutOrAgainstItsSidecarIsAnError) {
  auto dir = temp_dir("embfile-f32");
  auto raw = (dir / "v.f32").string();
  std::vector<float> v(6, 1.0f);
  write_file(raw, std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  std::string e = error_of(raw);
  EXPECT_NE(e.find("v.f32.json"), std::string::npos) << e;
  EXPECT_NE(e.find("carries no shape"), std::string::npos) << e;
  write_file(raw + ".json", "{\"rows\": 2, \"dimension\": 4, \"dtype\": \"float32\"}");
  e = error_of(raw);
  EXPECT_NE(e.find("24 bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("2 x 4"), std::string::npos) << e;
  write_file(raw + ".json", "{\"rows\": 2, \"dimension\": 3, \"dtype\": \"float16\"}");
  EXPECT_NE(error_of(raw).find("float16"), std::string::npos) << error_of(raw);
  write_file(raw + ".json", "{\"rows\": 2, \"dimension\": 3}");
  auto f = read_embeddings(raw);
  EXPECT_EQ(f.vectors.rows, 2u);
  EXPECT_EQ(f.vectors.cols, 3u);
  write_file(raw + ".json", "{\"rows\": 4611686018427387904, \"dimension\": 4611686018427387904}");
  EXPECT_NE(error_of(raw).find("bytes"), std::string::npos) << error_of(raw);
  auto table = (dir / "t.csv").string();
  write_file(table, "index,text\n0,a\n");
  EXPECT_NE(error_of(table).find("no embedding columns"), std::string::npos) << error_of(table);
  write_file(table, "index,e0,e1\n0,1,x\n");
  EXPECT_NE(error_of(table).find("t.csv:2"), std::string::npos) << error_of(table);
}

TEST(EmbeddingsFile, ErrorsNameFileAndLine) {
  auto dir = temp_dir("embfile");
  auto ragged = (dir / "r.jsonl").string();
  write_file(ragged, "{\"embedding\": [1, 2]}\n{\"embedding\": [1, 2, 3]}\n");
  EXPECT_NE(error_of(ragged).find("r.jsonl:2"), std::string::npos) << error_of(ragged);
  auto missing = (dir / "m.jsonl").string();
  write_file(missing, "{\"vector\": [1, 2]}\n");
  EXPECT_NE(error_of(missing).find("m.jsonl:1"), std::string::npos);
  auto text = (dir / "t.jsonl").string();
  write_file(text, "{\"embedding\": [1, \"x\"]}\n");
  EXPECT_NE(error_of(text).find("non-number"), std::string::npos);
  auto empty = (dir / "e.jsonl").string();
  write_file(empty, "");
  EXPECT_NE(error_of(empty).find("no embeddings"), std::string::npos);
  EXPECT_NE(error_of((dir / "absent.npy").string()), "");
}

}  // namespace
}  // namespace sbert
