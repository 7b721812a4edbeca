// The model folder on disk, without libtorch: the sentence-transformers layout (modules.json,
// 1_Pooling/config.json, N_Dense/config.json, Normalize, sentence_bert_config.json,
// config_sentence_transformers.json), config.json basics, which weight file and which tokenizer
// file a loader opens, safetensors header summaries, and writers for the ST layout files (what
// `sbert train` writes). Errors are one-line sbert::Error naming the file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sbert::model {

// ---- JSON files ----
// The parsed file; "PATH: cannot open" / "PATH: invalid JSON: ..." otherwise.
nlohmann::json read_json(const std::filesystem::path& path);
// nullopt when the file does not exist; throws like read_json when it exists but is bad.
std::optional<nlohmann::json> read_json_if_exists(const std::filesystem::path& path);
// The file's JSON object; {} when the file is missing or holds no object (optional configs such as
// tokenizer_config.json); throws like read_json when it is not JSON.
nlohmann::json read_json_object(const std::filesystem::path& path);

// ---- weight files ----
// The weight files of a Hugging Face folder in order of preference: model.safetensors,
// model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json.
const std::vector<std::string>& weight_file_names();
// The first of weight_file_names() present in `dir` (a regular file); nullopt when none.
std::optional<std::filesystem::path> find_weight_file(const std::filesystem::path& dir);
// The files holding the tensors of find_weight_file(dir): the file itself, or the shards its
// *.index.json weight_map names (sorted, each once). Empty when there are no weights.
std::vector<std::filesystem::path> weight_shards(const std::filesystem::path& dir);
// "model.safetensors.index.json" -> true.
bool is_index_file(const std::filesystem::path& file);

struct SafetensorsSummary {
  std::uint64_t parameters = 0;
  size_t tensors = 0;
  std::set<std::string> dtypes;  // "F32", "F16", "BF16", ...
};
// Reads only the header of a .safetensors file (8-byte little-endian length + JSON).
SafetensorsSummary read_safetensors_summary(const std::filesystem::path& file);

// ---- tokenizer files ----
// The preferred tokenizer file in `dir`: tokenizer.json, then a SentencePiece *.model (first by
// name), then vocab.txt (sentencepiece_only: only a *.model); nullopt when there is none.
std::optional<std::filesystem::path> find_tokenizer_file(const std::filesystem::path& dir,
                                                         bool sentencepiece_only = false);
// The folders searched for a model's tokenizer, in order: the folder itself, then 0_Transformer/.
std::vector<std::filesystem::path> tokenizer_search_dirs(const std::filesystem::path& model_dir);
// find_tokenizer_file over tokenizer_search_dirs(model_dir); the folder that holds the file is
// its parent_path().
std::optional<std::filesystem::path> find_model_tokenizer(const std::filesystem::path& model_dir,
                                                          bool sentencepiece_only = false);

// ---- config.json ----
struct TransformerBasics {
  std::string model_type;
  std::vector<std::string> architectures;
  size_t hidden_size = 0;              // hidden_size / dim / d_model; 0 when absent
  size_t max_position_embeddings = 0;  // max_position_embeddings / n_positions; 0 when absent
  size_t pad_token_id = 0;
  // Positions a tokenized input may use (RoBERTa-style models lose pad_token_id + 1); 0 unknown.
  size_t max_input_length() const;
};
TransformerBasics read_transformer_basics(const std::filesystem::path& config_json);

// ---- the sentence-transformers layout ----
enum class ModuleKind { Transformer, Pooling, Dense, Normalize, Other };

struct ModuleEntry {
  std::string type;  // as written, e.g. "sentence_transformers.models.Pooling"
  std::string path;  // as written ("" for the root)
  std::filesystem::path dir;
  ModuleKind kind = ModuleKind::Other;
  size_t dense_index = 0;  // for Dense: index into ModelFolder::dense
  std::string short_type() const;  // "Pooling"
};

struct PoolingSpec {
  // In sentence-transformers' concatenation order; names as sbert's pooling modes: "cls", "max",
  // "mean", "mean_sqrt_len", "weightedmean", "lasttoken".
  std::vector<std::string> modes;
  bool include_prompt = true;
  int64_t word_embedding_dimension = 0;  // 0: not given
  std::filesystem::path file;            // the config.json it was read from; empty: default
};

struct DenseSpec {
  std::filesystem::path dir;
  int64_t in_features = 0, out_features = 0;
  bool bias = true;
  std::string activation;  // "identity", "tanh", "relu", "sigmoid", "gelu"
};

struct ModelFolder {
  std::filesystem::path root;
  std::filesystem::path transformer_dir;  // config.json, weights, tokenizer files
  bool sentence_transformers = false;     // modules.json present
  std::vector<ModuleEntry> modules;       // modules.json order
  bool pooling_from_config = false;       // a Pooling module's config was read
  PoolingSpec pooling;                    // without one: mean (cls for an ST folder without Pooling)
  std::vector<DenseSpec> dense;
  size_t max_seq_length = 0;              // sentence_bert_config.json; 0: not set
  std::optional<bool> do_lower_case;      // sentence_bert_config.json
  std::string similarity_fn = "cosine";   // "cosine", "dot", "euclidean", "manhattan"
  std::map<std::string, std::string> prompts;
  std::string default_prompt_name;

  bool has_normalize() const;
  // Modules in order after pooling (Dense and Normalize entries).
  std::vector<const ModuleEntry*> post_modules() const;
};

struct ReadOptions {
  // Strict (for loading): unknown module types, a Dense module without in/out features or with
  // an unknown activation, an unknown similarity_fn_name and a missing config.json are errors.
  // Lenient (for describing): such modules are recorded as they are and what cannot be read is
  // left at its default.
  bool strict = true;
};

// Reads the layout of a model folder (no weights). Throws sbert::Error naming the file.
ModelFolder read_model_folder(const std::filesystem::path& dir, const ReadOptions& options = {});

// Parsers of single files (read_model_folder uses them).
// Strict: a non-boolean flag or no mode enabled is an error; lenient: modes may come back empty.
PoolingSpec read_pooling_config(const std::filesystem::path& config_json, bool strict = true);
DenseSpec read_dense_config(const std::filesystem::path& dense_dir, bool strict = true);
// "torch.nn.modules.activation.Tanh" -> "tanh" ("" and Identity -> "identity"); throws naming
// `file` for an unsupported one.
std::string dense_activation_name(const std::string& torch_name, const std::filesystem::path& file);
// do_lower_case as read_model_folder finds it (sentence_bert_config.json of the transformer
// folder named by modules.json, else of the root), without reading the other module configs;
// unset when the file does not say. true means: lower-case the input (sentence-transformers).
std::optional<bool> read_do_lower_case(const std::filesystem::path& model_dir);

// ---- writers for the sentence-transformers layout (atomic, via AtomicOutput) ----
struct StLayout {
  std::string transformer_path;  // "" when the transformer sits in the root (ST's default)
  PoolingSpec pooling;           // word_embedding_dimension must be set
  std::vector<DenseSpec> dense;  // written as N_Dense/config.json (weights are the caller's)
  bool normalize = false;
  size_t max_seq_length = 0;     // 0: not written
  bool do_lower_case = false;
  std::string similarity_fn = "cosine";
  std::map<std::string, std::string> prompts;
  std::string default_prompt_name;
};
// Writes modules.json, 1_Pooling/config.json, N_Dense/config.json, sentence_bert_config.json and
// config_sentence_transformers.json into `dir` (created when missing). Module folders are named
// as sentence-transformers names them (1_Pooling, 2_Dense, ..., then N_Normalize).
void write_st_layout(const std::filesystem::path& dir, const StLayout& layout);
nlohmann::json modules_json(const StLayout& layout);
nlohmann::json pooling_config_json(const PoolingSpec& pooling);
nlohmann::json dense_config_json(const DenseSpec& dense);
nlohmann::json sentence_bert_config_json(const StLayout& layout);
nlohmann::json config_sentence_transformers_json(const StLayout& layout);
// Writes `j` (indented by 2) to `path` atomically.
void write_json_atomic(const std::filesystem::path& path, const nlohmann::json& j);

}  // namespace sbert::model
