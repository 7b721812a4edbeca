// Bad model folders and checkpoints: each must give one sbert::Error line naming the file and
// the problem (never a crash). Also: the torch.save reader against the safetensors weights.
#include <caffe2/serialize/inline_container.h>

#include <fstream>

#include "nn/embedding_model.h"
#include "nn/weight_store.h"
#include "sbert/error.h"
#include "sbert/random_model.h"
#include "sbert/safetensors_writer.h"
#include "nn_test_util.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;

using sbert::nntest::fresh_model;

// The message of the sbert::Error thrown by loading `dir` ("" when it loads).
std::string load_error(const fs::path& dir, const sbert::EncoderOptions& o = {}) {
  try {
    sbert::nntest::load_model(dir, o);
  } catch (const sbert::Error& e) {
    return e.what();
  }
  return "";
}

void expect_error(const std::string& msg, std::initializer_list<const char*> parts) {
  ASSERT_FALSE(msg.empty()) << "expected an error";
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

std::string read_bytes(const fs::path& p) { return sbert::testing::read_file(p); }

void write_bytes(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

std::string safetensors_with_header(const std::string& header, size_t data_bytes) {
  std::string h = header;
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + h + std::string(data_bytes, '\0');
}

TEST(EncoderErrors, MissingFolder) {
  expect_error(load_error("/nonexistent/model-dir"), {"/nonexistent/model-dir", "not found"});
}

TEST(EncoderErrors, TruncatedSafetensors) {
  fs::path dir = fresh_model("trunc");
  std::string bytes = read_bytes(dir / "model.safetensors");
  write_bytes(dir / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  expect_error(load_error(dir), {"model.safetensors", "past the end"});
  write_bytes(dir / "model.safetensors", bytes.substr(0, 5));
  expect_error(load_error(dir), {"model.safetensors", "truncated"});
  write_bytes(dir / "model.safetensors", bytes.substr(0, 100));  // header cut
  expect_error(load_error(dir), {"model.safetensors", "truncated"});
}

TEST(EncoderErrors, HeaderProblems) {
  fs::path dir = fresh_model("header");
  write_bytes(dir / "model.safetensors",
              safetensors_with_header(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 64]}})", 16));
  expect_error(load_error(dir), {"model.safetensors", "'a'", "past the end"});
  write_bytes(dir / "model.safetensors",
              safetensors_with_header(R"({"a": {"dtype": "F8_E9M9", "shape": [4], "data_offsets": [0, 4]}})", 4));
  expect_error(load_error(dir), {"model.safetensors", "unsupported dtype 'F8_E9M9'"});
  write_bytes(dir / "model.safetensors",
              safetensors_with_header(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}})", 16));
  expect_error(load_error(dir), {"model.safetensors", "'a'", "12 bytes"});
  write_bytes(dir / "model.safetensors", safetensors_with_header("{not json", 0));
  expect_error(load_error(dir), {"model.safetensors", "JSON"});
}

TEST(EncoderErrors, MissingTensorAndShapeMismatch) {
  fs::path dir = fresh_model("missing");
  // Rewrite the checkpoint without one tensor and with one of the wrong shape.
  auto store = sbert::nn::open_safetensors(dir / "model.safetensors");
  std::vector<sbert::NamedTensor> tensors;
  for (const auto& name : store->names()) {
    if (name == "encoder.layer.0.output.dense.weight") continue;
    at::Tensor t = store->get(name).contiguous();
    sbert::NamedTensor nt{name, t.sizes().vec(),
                          std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())};
    if (name == "encoder.layer.0.intermediate.dense.bias") nt = {name, {7}, std::vector<float>(7, 0.f)};
    tensors.push_back(nt);
  }
  store.reset();
  sbert::write_safetensors(dir / "model.safetensors", tensors);
  std::string msg = load_error(dir);
  expect_error(msg, {"model.safetensors", "missing", "encoder.layer.0.output.dense.weight",
                     "shape mismatch", "encoder.layer.0.intermediate.dense.bias [7] (expected [32])"});
}

TEST(EncoderErrors, UnknownArchitectureAndPooling) {
  fs::path dir = fresh_model("arch");
  std::string cfg = read_bytes(dir / "config.json");
  std::string bad = cfg;
  bad.replace(bad.find("\"bert\""), 6, "\"gpt2\"");
  write_bytes(dir / "config.json", bad);
  expect_error(load_error(dir), {"config.json", "unknown architecture", "gpt2"});
  write_bytes(dir / "config.json", cfg);
  sbert::EncoderOptions o;
  o.pooling = "median";
  expect_error(load_error(dir, o), {"unknown pooling mode 'median'"});
  write_bytes(dir / "1_Pooling/config.json", R"({"pooling_mode_mean_tokens": false})");
  expect_error(load_error(dir), {"1_Pooling/config.json", "no pooling mode"});
  write_bytes(dir / "1_Pooling/config.json", R"({"pooling_mode": "median"})");
  expect_error(load_error(dir), {"1_Pooling/config.json", "median"});
  write_bytes(dir / "1_Pooling/config.json", R"({"pooling_mode_mean_tokens": true})");
  EXPECT_EQ(load_error(dir), "");
  write_bytes(dir / "config.json", "{\"model_type\": \"bert\"");
  expect_error(load_error(dir), {"config.json", "invalid JSON"});
  fs::remove(dir / "config.json");
  expect_error(load_error(dir), {"config.json"});
}

TEST(EncoderErrors, PoolerModeNeedsPoolerWeights) {
  SBERT_REQUIRE_SHARED(shared);
  sbert::EncoderOptions o;
  o.pooling = "pooler";
  expect_error(load_error(shared / "fixtures/models/distilbert-krwordpiece-dense", o),
               {"pooler"});
}

TEST(EncoderErrors, BadDeviceAndDtype) {
  fs::path dir = fresh_model("device");
  sbert::EncoderOptions o;
  o.device = "tpu";
  expect_error(load_error(dir, o), {"unknown device 'tpu'"});
  o.device = "cuda:99";
  expect_error(load_error(dir, o), {"cuda:99"});
  o.device = "cpu";
  o.dtype = "float8";
  expect_error(load_error(dir, o), {"unknown dtype 'float8'"});
  o.dtype = "float32";
  o.max_length = 100000;
  expect_error(load_error(dir, o), {"max_length 100000", "512"});
}

// A checkpoint whose pickle calls os.system must be refused, not executed.
TEST(TorchCheckpoint, RefusesArbitraryGlobals) {
  fs::path dir = sbert::testing::temp_dir("evil");
  fs::path file = dir / "pytorch_model.bin";
  {
    caffe2::serialize::PyTorchStreamWriter w(file.string());
    // PROTO 2, GLOBAL 'os system', SHORT_BINUNICODE 'touch pwned', TUPLE1, REDUCE, STOP
    std::string pkl = "\x80\x02" "cos\nsystem\n" "\x8c\x0btouch pwned" "\x85" "R.";
    w.writeRecord("data.pkl", pkl.data(), pkl.size());
    w.writeEndOfFile();
  }
  try {
    sbert::nn::open_torch_checkpoint(file);
    FAIL() << "loaded a pickle that calls os.system";
  } catch (const sbert::Error& e) {
    expect_error(e.what(), {"pytorch_model.bin", "refusing", "os system"});
  }
  EXPECT_FALSE(fs::exists("pwned"));
  // Not a zip at all.
  write_bytes(file, "garbage");
  EXPECT_THROW(sbert::nn::open_torch_checkpoint(file), sbert::Error);
}

TEST(TorchCheckpoint, StateDictMatchesSafetensors) {
  SBERT_REQUIRE_SHARED(shared);
  auto bin = sbert::nn::open_torch_checkpoint(shared / "fixtures/models/bert-wordpiece-mean-norm-bin/pytorch_model.bin");
  auto st = sbert::nn::open_safetensors(shared / "fixtures/models/bert-wordpiece-mean-norm/model.safetensors");
  EXPECT_EQ(sbert::nn::find_encoder_prefix(*bin), "bert.");
  EXPECT_EQ(sbert::nn::find_encoder_prefix(*st), "");
  EXPECT_TRUE(bin->contains("bert.embeddings.position_ids"));
  EXPECT_TRUE(bin->contains("cls.predictions.bias"));
  size_t compared = 0;
  for (const auto& name : st->names()) {
    ASSERT_TRUE(bin->contains("bert." + name)) << name;
    at::Tensor a = st->get(name), b = bin->get("bert." + name);
    ASSERT_EQ(a.sizes(), b.sizes()) << name;
    EXPECT_TRUE(at::equal(a, b)) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 39u);
  // The Dense module's plain dict checkpoint.
  auto dense = sbert::nn::open_torch_checkpoint(shared / "fixtures/models/distilbert-krwordpiece-dense/2_Dense/pytorch_model.bin");
  EXPECT_EQ(dense->shape("linear.weight"), (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(dense->shape("linear.bias"), (std::vector<int64_t>{16}));
}

TEST(WeightStore, ShardedIndex) {
  fs::path dir = fresh_model("shards");
  auto store = sbert::nn::open_safetensors(dir / "model.safetensors");
  std::vector<sbert::NamedTensor> a, b;
  nlohmann::json map;
  for (const auto& name : store->names()) {
    at::Tensor t = store->get(name).contiguous();
    sbert::NamedTensor nt{name, t.sizes().vec(),
                          std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())};
    bool first = name.rfind("embeddings.", 0) == 0;
    (first ? a : b).push_back(nt);
    map[name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  store.reset();
  sbert::write_safetensors(dir / "model-00001-of-00002.safetensors", a);
  sbert::write_safetensors(dir / "model-00002-of-00002.safetensors", b);
  fs::path moved = dir.parent_path() / (dir.filename().string() + "-single.safetensors");
  fs::rename(dir / "model.safetensors", moved);
  sbert::testing::write_file(dir / "model.safetensors.index.json",
                             nlohmann::json({{"metadata", {}}, {"weight_map", map}}).dump());
  sbert::Encoding e;
  e.ids = {2, 10, 11, 12, 3};
  auto sharded = sbert::nntest::load_model(dir, {})->embed({&e});
  fs::remove(dir / "model.safetensors.index.json");
  fs::rename(moved, dir / "model.safetensors");
  auto single = sbert::nntest::load_model(dir, {})->embed({&e});
  EXPECT_EQ(sharded.data, single.data);
  // A shard named in the index but absent.
  fs::remove(dir / "model.safetensors");
  fs::remove(dir / "model-00002-of-00002.safetensors");
  sbert::testing::write_file(dir / "model.safetensors.index.json",
                             nlohmann::json({{"weight_map", map}}).dump());
  expect_error(load_error(dir), {"model.safetensors.index.json", "model-00002-of-00002.safetensors", "not found"});
}

}  // namespace
