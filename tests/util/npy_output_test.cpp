#include <fstream>

#include "sbert/error.h"
#include "sbert/npy.h"
#include "sbert/output_file.h"
#include "test_support.h"

using namespace sbert;

TEST(Npy, RoundTripAndHeaderAlignment) {
  auto dir = sbert::testing::temp_dir("npy");
  Matrix m(3, 5);
  for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = 0.5f * i - 1.0f;
  write_npy((dir / "m.npy").string(), m);
  std::string bytes = sbert::testing::read_file(dir / "m.npy");
  ASSERT_GE(bytes.size(), 10u);
  uint16_t hlen = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_NE(bytes.find("'shape': (3, 5)"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10u + hlen + 15 * 4);
  Matrix back = read_npy((dir / "m.npy").string());
  EXPECT_EQ(back.rows, 3u);
  EXPECT_EQ(back.cols, 5u);
  EXPECT_EQ(back.data, m.data);
}

TEST(Npy, TruncatedAndWrongDtypeAreErrors) {
  auto dir = sbert::testing::temp_dir("npybad");
  Matrix m(4, 4);
  write_npy((dir / "m.npy").string(), m);
  std::string bytes = sbert::testing::read_file(dir / "m.npy");
  sbert::testing::write_file(dir / "t.npy", bytes.substr(0, bytes.size() - 8));
  EXPECT_THROW(read_npy((dir / "t.npy").string()), Error);
  std::string i8 = bytes;
  i8.replace(i8.find("<f4"), 3, "<i8");
  sbert::testing::write_file(dir / "i.npy", i8);
  try {
    read_npy((dir / "i.npy").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dtype"), std::string::npos);
  }
  sbert::testing::write_file(dir / "x.npy", "hello");
  EXPECT_THROW(read_npy((dir / "x.npy").string()), Error);
}

TEST(AtomicOutput, UncommittedOutputLeavesNothing) {
  auto dir = sbert::testing::temp_dir("atomic");
  auto path = (dir / "out.txt").string();
  {
    AtomicOutput out(path);
    out.write("partial");
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  {
    AtomicOutput out(path);
    out.write("done\n");
    out.commit();
  }
  EXPECT_EQ(sbert::testing::read_file(path), "done\n");
  {
    AtomicOutput out(path);
    out.write("replacement that fails");
  }
  EXPECT_EQ(sbert::testing::read_file(path), "done\n") << "previous output kept";
}
