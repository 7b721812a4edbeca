// sbert::model: reading model folders (fixture models from ../shared and small folders written
// here), the weight/tokenizer file choice, safetensors header summaries and the ST layout writers.
#include "sbert/model_folder.h"

#include <filesystem>
#include <string>

#include "sbert/error.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace sbert::model;
using sbert::testing::error_of;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A plain transformer folder: just a config.json.
fs::path plain_folder(const std::string& name) {
  fs::path d = temp_dir(name);
  write_file(d / "config.json", R"({"model_type": "bert", "hidden_size": 8})");
  return d;
}

// A safetensors file with the given header JSON and `data` bytes of payload.
void write_safetensors_header(const fs::path& file, const std::string& header, size_t data) {
  std::string bytes;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  bytes += header;
  bytes += std::string(data, '\0');
  write_file(file, bytes);
}

}  // namespace

// ---- fixture folders ----

TEST(ModelFolder, FixtureSubfolderLayoutWithDense) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path dir = shared / "fixtures/models/distilbert-krwordpiece-dense";
  ModelFolder f = read_model_folder(dir);
  EXPECT_TRUE(f.sentence_transformers);
  EXPECT_EQ(f.transformer_dir, dir / "0_Transformer");
  ASSERT_EQ(f.modules.size(), 3u);
  EXPECT_EQ(f.modules[0].kind, ModuleKind::Transformer);
  EXPECT_EQ(f.modules[1].kind, ModuleKind::Pooling);
  EXPECT_EQ(f.modules[2].kind, ModuleKind::Dense);
  EXPECT_EQ(f.modules[2].short_type(), "Dense");
  EXPECT_TRUE(f.pooling_from_config);
  EXPECT_EQ(f.pooling.modes, std::vector<std::string>{"mean"});
  EXPECT_EQ(f.pooling.word_embedding_dimension, 32);
  ASSERT_EQ(f.dense.size(), 1u);
  EXPECT_EQ(f.dense[0].in_features, 32);
  EXPECT_EQ(f.dense[0].out_features, 16);
  EXPECT_TRUE(f.dense[0].bias);
  EXPECT_EQ(f.dense[0].activation, "tanh");
  EXPECT_FALSE(f.has_normalize());
  EXPECT_EQ(f.max_seq_length, 128u);
  ASSERT_TRUE(f.do_lower_case.has_value());
  EXPECT_FALSE(*f.do_lower_case);
  EXPECT_EQ(f.similarity_fn, "cosine");
  EXPECT_EQ(find_weight_file(f.transformer_dir), dir / "0_Transformer/model.safetensors");
  EXPECT_EQ(find_weight_file(dir / "2_Dense"), dir / "2_Dense/pytorch_model.bin");
  EXPECT_EQ(find_model_tokenizer(dir), dir / "0_Transformer/vocab.txt");
  auto basics = read_transformer_basics(f.transformer_dir / "config.json");
  EXPECT_EQ(basics.model_type, "distilbert");
  EXPECT_EQ(basics.hidden_size, 32u);
}

TEST(ModelFolder, FixtureRootLayoutAndSafetensorsSummary) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path dir = shared / "fixtures/models/bert-wordpiece-mean-norm";
  ModelFolder f = read_model_folder(dir);
  EXPECT_EQ(f.transformer_dir, dir);
  EXPECT_TRUE(f.has_normalize());
  ASSERT_EQ(f.post_modules().size(), 1u);
  EXPECT_EQ(f.post_modules()[0]->kind, ModuleKind::Normalize);
  EXPECT_EQ(find_model_tokenizer(dir), dir / "tokenizer.json");
  // Parameter count computed separately (Python struct + json over the header).
  auto s = read_safetensors_summary(dir / "model.safetensors");
  EXPECT_EQ(s.parameters, 1011360u);
  EXPECT_EQ(s.dtypes, std::set<std::string>{"F32"});
  auto h = read_safetensors_summary(shared / "fixtures/models/bert-wordpiece-mean-norm-fp16/model.safetensors");
  EXPECT_EQ(h.parameters, 1011360u);
  EXPECT_EQ(h.dtypes, std::set<std::string>{"F16"});
  EXPECT_EQ(find_weight_file(shared / "fixtures/models/bert-wordpiece-mean-norm-bin"),
            shared / "fixtures/models/bert-wordpiece-mean-norm-bin/pytorch_model.bin");
}

TEST(ModelFolder, FixturePlainFolders) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path kobert = shared / "fixtures/models/bert-kobert-spm";
  ModelFolder f = read_model_folder(kobert);
  EXPECT_FALSE(f.sentence_transformers);
  EXPECT_TRUE(f.modules.empty());
  EXPECT_FALSE(f.pooling_from_config);
  EXPECT_EQ(f.pooling.modes, std::vector<std::string>{"mean"});
  EXPECT_EQ(f.max_seq_length, 0u);
  EXPECT_FALSE(f.do_lower_case.has_value());
  EXPECT_EQ(find_model_tokenizer(kobert), kobert / "tokenizer_78b3253a26.model")
      << "a SentencePiece model comes before vocab.txt";
  auto xlmr = read_transformer_basics(shared / "fixtures/models/nli-xlmr/config.json");
  EXPECT_EQ(xlmr.max_input_length(), 512u) << "514 positions minus the padding offset";
}

// ---- weight and tokenizer file choice ----

TEST(ModelFolder, WeightFilePreference) {
  fs::path d = plain_folder("weights");
  EXPECT_FALSE(find_weight_file(d).has_value());
  EXPECT_TRUE(weight_shards(d).empty());
  write_file(d / "pytorch_model.bin.index.json",
             R"({"weight_map": {"a": "pytorch_model-2.bin", "b": "pytorch_model-1.bin", "c": "pytorch_model-2.bin"}})");
  EXPECT_EQ(find_weight_file(d), d / "pytorch_model.bin.index.json");
  EXPECT_EQ(weight_shards(d), (std::vector<fs::path>{d / "pytorch_model-1.bin", d / "pytorch_model-2.bin"}));
  write_file(d / "pytorch_model.bin", "x");
  EXPECT_EQ(find_weight_file(d), d / "pytorch_model.bin");
  EXPECT_EQ(weight_shards(d), std::vector<fs::path>{d / "pytorch_model.bin"});
  write_file(d / "model.safetensors.index.json", R"({"weight_map": {"a": 3}})");
  EXPECT_EQ(find_weight_file(d), d / "model.safetensors.index.json");
  EXPECT_TRUE(contains(error_of([&] { weight_shards(d); }), "model.safetensors.index.json: weight_map['a']"));
  write_file(d / "model.safetensors", "x");
  EXPECT_EQ(find_weight_file(d), d / "model.safetensors");
  EXPECT_EQ(weight_file_names().front(), "model.safetensors");
  EXPECT_EQ(weight_file_names().size(), 4u);
  EXPECT_TRUE(is_index_file("model.safetensors.index.json"));
  EXPECT_FALSE(is_index_file("model.safetensors"));
}

TEST(ModelFolder, TokenizerFilePreference) {
  fs::path d = temp_dir("tok");
  EXPECT_FALSE(find_tokenizer_file(d).has_value());
  EXPECT_FALSE(find_model_tokenizer(d).has_value());
  fs::create_directories(d / "0_Transformer");
  write_file(d / "0_Transformer/vocab.txt", "[PAD]\n");
  EXPECT_EQ(find_model_tokenizer(d), d / "0_Transformer/vocab.txt") << "the subfolder when the root has none";
  write_file(d / "vocab.txt", "[PAD]\n");
  EXPECT_EQ(find_model_tokenizer(d), d / "vocab.txt") << "the root first";
  write_file(d / "b.model", "x");
  write_file(d / "a.model", "x");
  EXPECT_EQ(find_tokenizer_file(d), d / "a.model") << "SentencePiece before vocab.txt, first by name";
  write_file(d / "tokenizer.json", "{}");
  EXPECT_EQ(find_tokenizer_file(d), d / "tokenizer.json");
  EXPECT_EQ(find_tokenizer_file(d, true), d / "a.model") << "sentencepiece only";
  EXPECT_FALSE(find_tokenizer_file(d / "0_Transformer", true).has_value());
  EXPECT_EQ(find_model_tokenizer(d, true), d / "a.model");
  EXPECT_EQ(tokenizer_search_dirs(d), (std::vector<fs::path>{d, d / "0_Transformer"}));
}

TEST(ModelFolder, SafetensorsSummaryOfAWrittenHeader) {
  fs::path d = temp_dir("st");
  write_safetensors_header(d / "m.safetensors",
                           R"({"__metadata__": {"format": "pt"},)"
                           R"( "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},)"
                           R"( "b": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]}})",
                           32);
  auto s = read_safetensors_summary(d / "m.safetensors");
  EXPECT_EQ(s.parameters, 10u);
  EXPECT_EQ(s.tensors, 2u);
  EXPECT_EQ(s.dtypes, (std::set<std::string>{"BF16", "F32"}));

  write_file(d / "short.safetensors", std::string("\x10\x00", 2));
  EXPECT_EQ(error_of([&] { read_safetensors_summary(d / "short.safetensors"); }),
            (d / "short.safetensors").string() + ": truncated header");
  write_safetensors_header(d / "bad.safetensors", R"({"a": {"shape": [1]}})", 0);
  EXPECT_TRUE(contains(error_of([&] { read_safetensors_summary(d / "bad.safetensors"); }),
                       (d / "bad.safetensors").string() + ": invalid safetensors header"));
  EXPECT_TRUE(contains(error_of([&] { read_safetensors_summary(d / "absent.safetensors"); }), "cannot open"));
}

// ---- configs written here ----

TEST(ModelFolder, ReadsStConfigs) {
  fs::path d = plain_folder("stcfg");
  write_file(d / "modules.json", R"([
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"}])");
  fs::create_directories(d / "1_Pooling");
  write_file(d / "1_Pooling/config.json",
             R"({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": true, "pooling_mode_cls_token": true,)"
             R"( "pooling_mode_max_tokens": true, "include_prompt": false})");
  fs::create_directories(d / "2_Dense");
  write_file(d / "2_Dense/config.json", R"({"in_features": 24, "out_features": 4, "bias": false})");
  write_file(d / "sentence_bert_config.json", R"({"max_seq_length": 64, "do_lower_case": true})");
  write_file(d / "config_sentence_transformers.json",
             R"({"similarity_fn_name": "dot_product", "prompts": {"query": "q: ", "doc": "d: "},)"
             R"( "default_prompt_name": "query"})");
  ModelFolder f = read_model_folder(d);
  EXPECT_EQ(f.pooling.modes, (std::vector<std::string>{"cls", "max", "mean"})) << "sentence-transformers' order";
  EXPECT_FALSE(f.pooling.include_prompt);
  EXPECT_EQ(f.pooling.file, d / "1_Pooling/config.json");
  ASSERT_EQ(f.dense.size(), 1u);
  EXPECT_FALSE(f.dense[0].bias);
  EXPECT_EQ(f.dense[0].activation, "identity");
  ASSERT_EQ(f.post_modules().size(), 2u);
  EXPECT_EQ(f.post_modules()[0]->kind, ModuleKind::Dense);
  EXPECT_EQ(f.post_modules()[1]->kind, ModuleKind::Normalize);
  EXPECT_EQ(f.max_seq_length, 64u);
  EXPECT_EQ(f.do_lower_case, std::optional<bool>(true));
  EXPECT_EQ(read_do_lower_case(d), std::optional<bool>(true));
  EXPECT_EQ(f.similarity_fn, "dot");
  EXPECT_EQ(f.prompts.at("query"), "q: ");
  EXPECT_EQ(f.prompts.at("doc"), "d: ");
  EXPECT_EQ(f.default_prompt_name, "query");

  // The transformer folder's sentence_bert_config.json comes before the root's.
  fs::path s = temp_dir("sub");
  fs::create_directories(s / "0_Transformer");
  write_file(s / "0_Transformer/config.json", "{}");
  write_file(s / "modules.json",
             R"([{"path": "0_Transformer", "type": "sentence_transformers.models.Transformer"}])");
  write_file(s / "0_Transformer/sentence_bert_config.json", R"({"max_seq_length": 32})");
  write_file(s / "sentence_bert_config.json", R"({"max_seq_length": 99, "do_lower_case": true})");
  ModelFolder g = read_model_folder(s);
  EXPECT_EQ(g.max_seq_length, 32u);
  EXPECT_FALSE(g.do_lower_case.has_value());
  EXPECT_EQ(g.pooling.modes, std::vector<std::string>{"cls"}) << "an ST folder without Pooling";
  EXPECT_FALSE(read_do_lower_case(s).has_value());
}

TEST(ModelFolder, ErrorsNameTheFile) {
  fs::path d = plain_folder("errors");
  const std::string modules = (d / "modules.json").string();
  write_file(d / "modules.json", "{}");
  EXPECT_EQ(error_of([&] { read_model_folder(d); }), modules + ": not a JSON array");
  write_file(d / "modules.json", "[{");
  EXPECT_TRUE(contains(error_of([&] { read_model_folder(d); }), modules + ": invalid JSON: "));
  write_file(d / "modules.json", R"([{"path": "x", "type": "my.Custom"}])");
  EXPECT_EQ(error_of([&] { read_model_folder(d); }), modules + ": unsupported module type 'my.Custom'");
  ModelFolder lenient = read_model_folder(d, ReadOptions{false});
  ASSERT_EQ(lenient.modules.size(), 1u);
  EXPECT_EQ(lenient.modules[0].kind, ModuleKind::Other);
  EXPECT_EQ(lenient.modules[0].short_type(), "Custom");

  write_file(d / "modules.json", R"([{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])");
  fs::create_directories(d / "1_Pooling");
  write_file(d / "1_Pooling/config.json", R"({"pooling_mode_mean_tokens": false})");
  EXPECT_EQ(error_of([&] { read_model_folder(d); }), (d / "1_Pooling/config.json").string() + ": no pooling mode enabled");
  EXPECT_TRUE(read_model_folder(d, ReadOptions{false}).pooling.modes.empty());
  write_file(d / "1_Pooling/config.json", R"({"pooling_mode_mean_tokens": "yes"})");
  EXPECT_EQ(error_of([&] { read_model_folder(d); }),
            (d / "1_Pooling/config.json").string() + ": field 'pooling_mode_mean_tokens' is not a boolean");

  write_file(d / "modules.json", R"([{"path": "2_Dense", "type": "sentence_transformers.models.Dense"}])");
  fs::create_directories(d / "2_Dense");
  write_file(d / "2_Dense/config.json", R"({"out_features": 4})");
  EXPECT_EQ(error_of([&] { read_model_folder(d); }),
            (d / "2_Dense/config.json").string() + ": fields 'in_features'/'out_features' missing");
  write_file(d / "2_Dense/config.json",
             R"({"in_features": 4, "out_features": 4, "activation_function": "torch.nn.modules.activation.Mish"})");
  EXPECT_EQ(error_of([&] { read_model_folder(d); }), (d / "2_Dense/config.json").string() +
                                                         ": unsupported activation_function "
                                                         "'torch.nn.modules.activation.Mish'");
  EXPECT_EQ(read_model_folder(d, ReadOptions{false}).dense.at(0).out_features, 4);

  fs::remove(d / "modules.json");
  write_file(d / "config_sentence_transformers.json", R"({"similarity_fn_name": "jaccard"})");
  EXPECT_EQ(error_of([&] { read_model_folder(d); }),
            (d / "config_sentence_transformers.json").string() + ": unknown similarity_fn_name 'jaccard'");
  EXPECT_EQ(read_model_folder(d, ReadOptions{false}).similarity_fn, "cosine");
  fs::remove(d / "config_sentence_transformers.json");

  fs::remove(d / "config.json");
  EXPECT_EQ(error_of([&] { read_model_folder(d); }),
            (d / "config.json").string() + ": not found (not a transformer model folder)");
  EXPECT_EQ(error_of([&] { read_model_folder(d / "absent"); }), (d / "absent").string() + ": model folder not found");
  EXPECT_EQ(error_of([&] { read_json(d / "none.json"); }), (d / "none.json").string() + ": cannot open");
  EXPECT_FALSE(read_json_if_exists(d / "none.json").has_value());
}

// Issue 32 #12: module paths that leave the model folder are refused, not loaded from there.
TEST(ModelFolder, ModulePathsStayInsideTheFolder) {
  fs::path d = plain_folder("module-paths");
  fs::path outside = temp_dir("module-paths-outside");
  fs::create_directories(outside / "P");
  write_file(outside / "P/config.json", R"({"pooling_mode_cls_token": true})");
  const std::string modules = (d / "modules.json").string();
  auto pooling_at = [&](const std::string& path) {
    write_file(d / "modules.json", R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                                      {"idx": 1, "name": "1", "path": ")" + path +
                                       R"(", "type": "sentence_transformers.models.Pooling"}])");
  };
  for (const std::string& path : std::vector<std::string>{(outside / "P").string(), "../" + outside.filename().string() + "/P",
                                 "1_Pooling/../../x"}) {
    pooling_at(path);
    for (bool strict : {true, false}) {
      const std::string e = error_of([&] { read_model_folder(d, ReadOptions{strict}); });
      EXPECT_TRUE(contains(e, modules + ": module path '" + path + "'")) << e;
      EXPECT_TRUE(contains(e, "inside the model folder")) << e;
    }
  }
  // A symbolic link inside the folder that points out.
  fs::create_directory_symlink(outside / "P", d / "1_Pooling");
  pooling_at("1_Pooling");
  std::string e = error_of([&] { read_model_folder(d); });
  EXPECT_TRUE(contains(e, "resolves to " + fs::canonical(outside / "P").string() + ", outside")) << e;
  // The transformer path read for do_lower_case is checked too.
  write_file(d / "modules.json", R"([{"path": "../)" + outside.filename().string() +
                                     R"(", "type": "sentence_transformers.models.Transformer"}])");
  EXPECT_TRUE(contains(error_of([&] { read_do_lower_case(d); }), "climbs out")) << error_of([&] { read_do_lower_case(d); });
  // Links that stay inside, and plain relative paths, are fine.
  fs::remove(d / "1_Pooling");
  fs::create_directories(d / "real_pooling");
  write_file(d / "real_pooling/config.json", R"({"pooling_mode_cls_token": true})");
  fs::create_directory_symlink("real_pooling", d / "1_Pooling");
  pooling_at("1_Pooling");
  EXPECT_EQ(read_model_folder(d).pooling.modes, std::vector<std::string>{"cls"});
  pooling_at("./real_pooling");
  EXPECT_EQ(read_model_folder(d).pooling.modes, std::vector<std::string>{"cls"});
}

// ---- writers ----

TEST(ModelFolder, WritesTheStLayout) {
  fs::path d = temp_dir("write") / "out";
  StLayout l;
  l.pooling.modes = {"mean"};
  l.pooling.word_embedding_dimension = 8;
  DenseSpec dense;
  dense.in_features = 8;
  dense.out_features = 4;
  dense.activation = "tanh";
  l.dense.push_back(dense);
  l.normalize = true;
  l.max_seq_length = 128;
  l.similarity_fn = "dot";
  l.prompts = {{"query", "query: "}};
  l.default_prompt_name = "query";
  write_st_layout(d, l);

  // The files as sentence-transformers writes them.
  auto modules = sbert::testing::load_json(d / "modules.json");
  ASSERT_EQ(modules.size(), 4u);
  EXPECT_EQ(modules[0], nlohmann::json::parse(
                            R"({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"})"));
  EXPECT_EQ(modules[1]["path"], "1_Pooling");
  EXPECT_EQ(modules[2]["path"], "2_Dense");
  EXPECT_EQ(modules[2]["type"], "sentence_transformers.models.Dense");
  EXPECT_EQ(modules[3]["path"], "3_Normalize");
  EXPECT_EQ(modules[3]["idx"], 3);
  EXPECT_EQ(sbert::testing::load_json(d / "1_Pooling/config.json"),
            nlohmann::json::parse(R"({"word_embedding_dimension": 8, "pooling_mode_cls_token": false,
              "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false,
              "pooling_mode_mean_sqrt_len_tokens": false, "pooling_mode_weightedmean_tokens": false,
              "pooling_mode_lasttoken": false, "include_prompt": true})"));
  EXPECT_EQ(sbert::testing::load_json(d / "2_Dense/config.json"),
            nlohmann::json::parse(R"({"in_features": 8, "out_features": 4, "bias": true,
              "activation_function": "torch.nn.modules.activation.Tanh"})"));
  EXPECT_EQ(sbert::testing::load_json(d / "sentence_bert_config.json"),
            nlohmann::json::parse(R"({"max_seq_length": 128, "do_lower_case": false})"));
  EXPECT_EQ(sbert::testing::load_json(d / "config_sentence_transformers.json"),
            nlohmann::json::parse(R"({"prompts": {"query": "query: "}, "default_prompt_name": "query",
              "similarity_fn_name": "dot"})"));
  EXPECT_TRUE(fs::is_directory(d / "3_Normalize"));

  // Read back (a config.json makes it a transformer folder).
  write_file(d / "config.json", "{}");
  ModelFolder f = read_model_folder(d);
  EXPECT_EQ(f.pooling.modes, std::vector<std::string>{"mean"});
  ASSERT_EQ(f.dense.size(), 1u);
  EXPECT_EQ(f.dense[0].activation, "tanh");
  EXPECT_TRUE(f.has_normalize());
  EXPECT_EQ(f.max_seq_length, 128u);
  EXPECT_EQ(f.similarity_fn, "dot");
  EXPECT_EQ(f.default_prompt_name, "query");
}

TEST(ModelFolder, BadLayoutWritesNothing) {
  fs::path d = temp_dir("write-bad") / "out";
  StLayout l;
  l.pooling.modes = {"median"};
  l.pooling.word_embedding_dimension = 8;
  EXPECT_TRUE(contains(error_of([&] { write_st_layout(d, l); }), "unknown pooling mode 'median'"));
  l.pooling.modes = {"cls"};
  l.similarity_fn = "jaccard";
  EXPECT_TRUE(contains(error_of([&] { write_st_layout(d, l); }), "similarity function 'jaccard'"));
  l.similarity_fn = "cosine";
  l.default_prompt_name = "query";
  EXPECT_TRUE(contains(error_of([&] { write_st_layout(d, l); }), "default prompt 'query'"));
  l.default_prompt_name.clear();
  l.pooling.word_embedding_dimension = 0;
  EXPECT_TRUE(contains(error_of([&] { write_st_layout(d, l); }), "word_embedding_dimension"));
  EXPECT_FALSE(fs::exists(d)) << "nothing is written when the layout is invalid";
}
