// Hostile model files: nesting and sizes that once overflowed the stack or ate memory must be
// one-line sbert::Errors naming the file.
#include <caffe2/serialize/inline_container.h>

#include <fstream>

#include "nn/embedding_model.h"
#include "nn/weight_store.h"
#include "sbert/error.h"
#include "sbert/random_model.h"
#include "nn_test_util.h"
#include "test_support.h"

namespace {
namespace fs = std::filesystem;
using sbert::testing::error_of;

using sbert::nntest::fresh_model;

std::string load_error(const fs::path& dir) {
  return error_of([&] { sbert::nntest::load_model(dir, {}); });
}

void write_pickle(const fs::path& file, const std::string& pkl) {
  caffe2::serialize::PyTorchStreamWriter w(file.string());
  w.writeRecord("data.pkl", pkl.data(), pkl.size());
  w.writeEndOfFile();
}

void replace_field(const fs::path& cfg, const std::string& key, const std::string& value) {
  std::string s = sbert::testing::read_file(cfg);
  auto j = nlohmann::json::parse(s);
  j[key] = nlohmann::json::parse(value);
  sbert::testing::write_file(cfg, j.dump());
}
}  // namespace

TEST(InputLimits, DeeplyNestedPickleIsAnErrorNotACrash) {
  fs::path file = sbert::testing::temp_dir("deep_pickle") / "pytorch_model.bin";
  // PROTO 2, EMPTY_LIST x depth, APPEND x (depth-1), STOP: a list nested `depth` deep.
  auto nested = [](size_t depth) {
    return std::string("\x80\x02") + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
  };
  // 200,000 deep (a SIGSEGV once): refused, by whichever bound comes first.
  write_pickle(file, nested(200000));
  std::string e = error_of([&] { sbert::nn::open_torch_checkpoint(file); });
  EXPECT_NE(e.find("pytorch_model.bin"), std::string::npos) << e;
  // 2,000 deep: the nesting bound.
  write_pickle(file, nested(2000));
  e = error_of([&] { sbert::nn::open_torch_checkpoint(file); });
  EXPECT_NE(e.find("nesting deeper than 1000"), std::string::npos) << e;
}

TEST(InputLimits, PickleValueCountBoundedByArchive) {
  fs::path file = sbert::testing::temp_dir("none_pickle") / "pytorch_model.bin";
  write_pickle(file, std::string("\x80\x02") + std::string(1000000, 'N') + ".");
  std::string e = error_of([&] { sbert::nn::open_torch_checkpoint(file); });
  EXPECT_NE(e.find("pytorch_model.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("values, too many"), std::string::npos) << e;
}

TEST(InputLimits, SelfReferencingDictInPickle) {
  fs::path file = sbert::testing::temp_dir("cycle_pickle") / "pytorch_model.bin";
  // d = {}; memo[0] = d; d['a'] = d  -> collect() used to recurse forever.
  const char pkl[] = "\x80\x02}q\x00\x8c\x01" "ah\x00s.";
  write_pickle(file, std::string(pkl, sizeof pkl - 1));
  std::string e = error_of([&] { sbert::nn::open_torch_checkpoint(file); });
  EXPECT_NE(e.find("deeper than 1000"), std::string::npos) << e;
}

TEST(InputLimits, DeeplyNestedConfigJson) {
  fs::path dir = fresh_model("deep_config");
  std::string cfg = sbert::testing::read_file(dir / "config.json");
  const size_t depth = 200000;
  cfg.insert(1, "\"deep\": " + std::string(depth, '[') + std::string(depth, ']') + ", ");
  sbert::testing::write_file(dir / "config.json", cfg);
  std::string e = load_error(dir);
  EXPECT_NE(e.find("config.json"), std::string::npos) << e;
  EXPECT_NE(e.find("nested deeper than 1000"), std::string::npos) << e;
}

TEST(InputLimits, HugeLayerCountFailsFast) {
  fs::path dir = fresh_model("huge_layers");
  replace_field(dir / "config.json", "num_hidden_layers", "1099511627776");
  std::string e = load_error(dir);
  EXPECT_NE(e.find("1099511627776 layers"), std::string::npos) << e;
  EXPECT_NE(e.find("encoder.layer.1099511627775"), std::string::npos) << e;
}

TEST(InputLimits, NonPositiveLayerNormEps) {
  fs::path dir = fresh_model("bad_eps");
  replace_field(dir / "config.json", "layer_norm_eps", "-1e-12");
  std::string e = load_error(dir);
  EXPECT_NE(e.find("config.json"), std::string::npos) << e;
  EXPECT_NE(e.find("layer_norm_eps"), std::string::npos) << e;
}

namespace {
std::string safetensors_with_header(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}
std::string open_error(const fs::path& file) {
  return error_of([&] { sbert::nn::open_safetensors(file); });
}
}  // namespace

TEST(InputLimits, SafetensorsRangesMustTileTheData) {
  fs::path file = sbert::testing::temp_dir("st_ranges") / "model.safetensors";
  auto put = [&](const std::string& h, size_t n) { sbert::testing::write_file(file, safetensors_with_header(h, n)); };
  put(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
          "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", 24);
  EXPECT_NE(open_error(file).find("overlap"), std::string::npos) << open_error(file);
  put(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 20);
  EXPECT_NE(open_error(file).find("4 bytes after the last tensor"), std::string::npos) << open_error(file);
  put(R"({"a": {"dtype": "F32", "shape": [4611686018427387904, 4611686018427387904], "data_offsets": [0, 0]}})", 0);
  EXPECT_NE(open_error(file).find("too large"), std::string::npos) << open_error(file);
  put(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})", 16);
  EXPECT_EQ(open_error(file), "<no sbert::Error>");
}

TEST(InputLimits, NonZipTorchCheckpointIsNamedAsSuch) {
  fs::path file = sbert::testing::temp_dir("nonzip") / "pytorch_model.bin";
  sbert::testing::write_file(file, std::string(64, 'x'));
  std::string e = error_of([&] { sbert::nn::open_weight_file(file); });
  EXPECT_NE(e.find("pytorch_model.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("not a torch.save zip"), std::string::npos) << e;
  EXPECT_EQ(e.find("safetensors file"), std::string::npos) << e;
}

