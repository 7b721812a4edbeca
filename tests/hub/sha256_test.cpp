// SHA-256 against the FIPS 180-4 example vectors and coreutils sha256sum.
#include <string>

#include "hub/sha256.h"
#include "sbert/error.h"
#include "test_support.h"

using sbert::hub::Sha256;
using sbert::hub::sha256_file_hex;
using sbert::hub::sha256_hex;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalUpdatesMatchOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>((i * 131 + 7) & 0xFF);
  std::string whole = sha256_hex(data);
  for (size_t step : {1u, 3u, 63u, 64u, 65u, 127u}) {
    Sha256 h;
    for (size_t i = 0; i < data.size(); i += step) h.update(data.data() + i, std::min(step, data.size() - i));
    EXPECT_EQ(h.hex_digest(), whole) << "step " << step;
  }
}

TEST(Sha256, MatchesSha256sumAroundBlockBoundaries) {
  if (sbert::testing::run_command("command -v sha256sum") != 0) {
    GTEST_SKIP() << "sha256sum not installed";
  }
  auto dir = sbert::testing::temp_dir("sha");
  for (size_t len : {55u, 56u, 57u, 63u, 64u, 65u, 119u, 120u, 128u, 1000u}) {
    std::string data;
    for (size_t i = 0; i < len; ++i) data += static_cast<char>((i * 7 + len) & 0xFF);
    auto file = dir / ("f" + std::to_string(len));
    sbert::testing::write_file(file, data);
    std::string out;
    ASSERT_EQ(sbert::testing::run_command("sha256sum " + file.string(), &out), 0);
    EXPECT_EQ(sha256_file_hex(file), out.substr(0, 64)) << "length " << len;
    EXPECT_EQ(sha256_hex(data), out.substr(0, 64)) << "length " << len;
  }
}

TEST(Sha256, UnreadableFileIsAnError) {
  EXPECT_THROW(sha256_file_hex("/nonexistent/sbert/file"), sbert::Error);
}
