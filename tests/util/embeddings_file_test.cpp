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
