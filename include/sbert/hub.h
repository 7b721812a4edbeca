// Models by name: resolves `org/name[@revision]` through the Hugging Face hub cache (the same
// layout and environment variables as the Python `huggingface_hub` library, so both share one
// cache), downloads what is missing with verified, resumable transfers, and describes a model folder.
//
// Cache layout (read and written):
//   <cache>/models--org--name/refs/<revision>            the commit hash the revision points at
//   <cache>/models--org--name/snapshots/<commit>/<file>  symlink -> ../../blobs/<etag>
//   <cache>/models--org--name/blobs/<etag>               the content (etag = sha256 for LFS files)
// <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sbert::hub {

struct ResolveOptions {
  // Never touch the network (also turned on by HF_HUB_OFFLINE=1 / TRANSFORMERS_OFFLINE=1).
  bool offline = false;
  // Access token; empty: $HF_TOKEN, else the file $HF_TOKEN_PATH, else $HF_HOME/token.
  std::string token;
  // Overrides $HF_ENDPOINT (default https://huggingface.co) and the cache folder when non-empty.
  std::string endpoint;
  std::filesystem::path cache_dir;
  // Progress bar on stderr; drawn only when stderr is a terminal.
  bool progress = true;
  // Network timeouts in seconds (connect, and no data received for this long).
  long timeout_seconds = 30;
};

// `org/name[@revision]`; revision defaults to "main".
struct ModelName {
  std::string repo_id;   // org/name
  std::string revision;  // branch, tag or 40-hex commit
};

// Parses `org/name[@revision]`; throws sbert::Error naming the argument when malformed.
ModelName parse_model_name(const std::string& name);
// True for arguments that can only be meant as a folder: they start with / . ~ or exist.
bool looks_like_path(const std::string& name_or_path);

// The hub cache folder the environment selects (see above), or options.cache_dir when set.
std::filesystem::path cache_dir(const ResolveOptions& options = {});
// models--org--name inside the cache.
std::filesystem::path repo_cache_dir(const std::string& repo_id, const ResolveOptions& options = {});
// Whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) asks for offline mode.
bool offline_from_env();

// An existing folder is returned as is; a path-looking argument that does not exist throws
// "model folder not found: X"; otherwise the name is looked up in the cache (no network when the
// snapshot is complete) and downloaded when missing. Returns the snapshot folder.
std::filesystem::path resolve_model(const std::string& name_or_path,
                                    const ResolveOptions& options = {});
// Downloads (or completes) the model's files into the cache and returns the snapshot folder.
// Files already in blobs/ are not fetched again.
std::filesystem::path download_model(const std::string& name, const ResolveOptions& options = {});

// $SBERT_MODEL, else sentence-transformers/all-MiniLM-L6-v2.
std::string default_model_name();

struct CachedRevision {
  std::string commit;
  std::vector<std::string> refs;  // refs/<name> pointing at this commit (may be empty)
  std::filesystem::path snapshot;
};

struct CachedModel {
  std::string name;  // org/name
  std::filesystem::path path;  // models--org--name
  std::vector<CachedRevision> revisions;
  std::uintmax_t size_bytes = 0;  // blobs on disk
};

// Every model in the cache, sorted by name. A missing cache folder gives an empty list.
std::vector<CachedModel> list_cached_models(const ResolveOptions& options = {});

// What a model folder holds, read from its config files and weight headers (no weights loaded).
struct ModelInfo {
  std::filesystem::path path;
  std::string architecture;       // config.json architectures[0], else model_type
  std::string model_type;
  size_t hidden_size = 0;         // transformer width
  size_t dimension = 0;           // sentence embedding size (after Dense modules)
  std::string pooling;            // cls | mean | max | mean_sqrt_len | weightedmean | lasttoken
  bool pooling_from_config = false;  // false: no Pooling module, the default (mean) applies
  bool normalize = false;         // a Normalize module is present
  size_t max_length = 0;          // max_seq_length, else tokenizer/config limits
  std::string tokenizer;          // e.g. "WordPiece (tokenizer.json)", "SentencePiece (x.model)"
  std::vector<std::string> modules;  // module types from modules.json, in order
  std::vector<std::string> weight_files;  // relative paths
  std::optional<std::uint64_t> parameters;  // from safetensors headers; unknown for .bin only
  std::vector<std::string> dtypes;  // tensor dtypes seen in safetensors headers
  std::uintmax_t size_bytes = 0;  // files in the folder (symlinks followed)
};

// Throws sbert::Error naming the file and field when a config is unreadable.
ModelInfo describe_model(const std::filesystem::path& model_dir);

}  // namespace sbert::hub
