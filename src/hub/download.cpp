// resolve_model / download_model: the hub cache first, then verified downloads from the hub.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "hub/cache_layout.h"
#include "hub/http.h"
#include "hub/sha256.h"
#include "sbert/json_parse.h"
#include "sbert/error.h"
#include "sbert/hub.h"
#include "sbert/model_folder.h"

namespace sbert::hub {

namespace fs = std::filesystem;
using namespace detail;

std::optional<RepoListing> detail::parse_repo_listing(const std::string& body) {
  try {
    auto j = parse_json(body);
    RepoListing out;
    if (!j.is_object()) return std::nullopt;
    for (const auto& s : j.at("siblings")) out.files.insert(s.at("rfilename").get<std::string>());
    out.sha = j.value("sha", "");
    if (!is_commit_hash(out.sha)) return std::nullopt;
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

namespace {

constexpr int kMaxAttempts = 5;

std::string strip_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

struct RemoteFile {
  std::string path;  // relative to the repo root
  std::string url;
  std::string etag;  // sha256 for LFS files, the git blob id otherwise
  std::uint64_t size = 0;  // 0 when unknown
};

// An exclusive lock on .locks/models--org--name/<etag>.lock, so two processes never write the
// same blob at once (the same lock files the Python library uses).
class BlobLock {
 public:
  explicit BlobLock(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~BlobLock() {
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
    }
  }

 private:
  int fd_ = -1;
};

class Downloader {
 public:
  Downloader(ModelName name, const ResolveOptions& options)
      : name_(std::move(name)),
        endpoint_(resolve_endpoint(options)),
        repo_dir_(repo_cache_dir(name_.repo_id, options)),
        http_(resolve_token(options), options.timeout_seconds, options.progress),
        has_token_(!resolve_token(options).empty()) {
    if (is_commit_hash(name_.revision)) commit_ = name_.revision;
  }

  fs::path run() {
    load_listing();
    fetch("modules.json", false);
    fetch("config_sentence_transformers.json", false);
    fetch("sentence_bert_config.json", false);
    std::vector<std::string> transformer_dirs;
    std::vector<std::pair<std::string, bool>> module_dirs;  // folder, may have weights
    if (fetched_.count("modules.json")) {
      auto text = read_text(snapshot() / "modules.json");
      nlohmann::json modules;
      try {
        modules = parse_json(text.value_or(""));
        if (!modules.is_array()) throw std::runtime_error("not an array");
      } catch (const std::exception& e) {
        throw Error(url_for("modules.json") + ": invalid modules.json (" + e.what() + ")");
      }
      for (const auto& m : modules) {
        std::string type = m.is_object() ? m.value("type", "") : "";
        std::string path = m.is_object() ? m.value("path", "") : "";
        while (!path.empty() && path.back() == '/') path.pop_back();
        if (!path.empty()) check_relative_path(path, url_for("modules.json"));
        if (path.empty() || type.find("Transformer") != std::string::npos) {
          transformer_dirs.push_back(path);
        } else if (type.find("Normalize") == std::string::npos) {
          // Normalize has no files; every other module keeps a config (and maybe weights).
          module_dirs.push_back({path, type.find("Pooling") == std::string::npos});
        }
      }
    }
    if (transformer_dirs.empty()) transformer_dirs.push_back("");
    for (const auto& dir : transformer_dirs) fetch_transformer(dir);
    for (const auto& [dir, weights] : module_dirs) fetch_module(dir, weights);
    if (commit_.empty()) throw Error("no commit known for " + name_.repo_id);
    if (name_.revision != commit_) {
      write_text_atomic(repo_dir_ / "refs" / name_.revision, commit_);
    }
    return snapshot();
  }

 private:
  static std::string join(const std::string& dir, const std::string& file) {
    return dir.empty() ? file : dir + "/" + file;
  }

  fs::path snapshot() const { return repo_dir_ / "snapshots" / commit_; }

  std::string url_for(const std::string& path) const {
    const std::string& rev = commit_.empty() ? name_.revision : commit_;
    return endpoint_ + "/" + name_.repo_id + "/resolve/" + url_encode(rev, false) + "/" +
           url_encode(path, true);
  }

  // The file list of the revision from /api/models/{repo}/revision/{rev}; without it (a mirror
  // that only serves files) every candidate is probed with a HEAD request instead.
  void load_listing() {
    std::string url = endpoint_ + "/api/models/" + name_.repo_id + "/revision/" +
                      url_encode(name_.revision, false);
    HttpResponse resp = http_.get_text(url);
    if (resp.status == 401 || resp.status == 403) throw http_error(resp, true);
    std::string code = resp.header("x-error-code");
    if (resp.status == 404 && (code == "RepoNotFound" || code == "RevisionNotFound")) {
      throw http_error(resp, true);
    }
    if (resp.status != 200) return;
    // Not the hub's API format: fall back to probing.
    auto listing = parse_repo_listing(resp.body);
    if (!listing) return;
    listing_ = std::move(listing->files);
    if (commit_.empty()) commit_ = listing->sha;
  }

  Error http_error(const HttpResponse& resp, bool required) const {
    std::string msg = "HTTP " + std::to_string(resp.status) + " for " + resp.url;
    std::string hub_msg = resp.header("x-error-message");
    std::string code = resp.header("x-error-code");
    if (resp.status == 401) {
      msg += has_token_ ? ": the token was rejected or has no access to " + name_.repo_id
                        : ": " + name_.repo_id +
                              " does not exist or is private/gated (set HF_TOKEN to a token "
                              "with access)";
    } else if (resp.status == 403) {
      msg += ": access to " + name_.repo_id +
             " denied (gated model: accept its terms on the hub; check HF_TOKEN)";
    } else if (resp.status == 404) {
      if (code == "RepoNotFound") {
        msg += ": repository " + name_.repo_id + " not found";
      } else if (code == "RevisionNotFound") {
        msg += ": revision '" + name_.revision + "' not found in " + name_.repo_id;
      } else if (required) {
        msg += ": required file not found";
      }
    }
    if (!hub_msg.empty() && hub_msg.size() < 200) msg += " (" + hub_msg + ")";
    return Error(msg);
  }

  bool listed(const std::string& path) const { return !listing_ || listing_->count(path) > 0; }

  // HEAD for the file's metadata; nullopt for a missing optional file.
  std::optional<RemoteFile> head(const std::string& path, bool required) {
    RemoteFile f;
    f.path = path;
    f.url = url_for(path);
    HttpResponse resp = http_.head(f.url);
    if (resp.status == 404) {
      std::string code = resp.header("x-error-code");
      if (required || code == "RepoNotFound" || code == "RevisionNotFound") {
        throw http_error(resp, required);
      }
      mark_missing(path);
      return std::nullopt;
    }
    if (resp.status >= 400 || resp.status < 200) throw http_error(resp, required);
    std::string commit = resp.header("x-repo-commit");
    if (commit_.empty()) {
      if (!is_commit_hash(commit)) {
        throw Error("the server sent no valid X-Repo-Commit header for " + f.url);
      }
      commit_ = commit;
    }
    std::string linked = resp.header("x-linked-etag");
    f.etag = strip_etag(linked.empty() ? resp.header("etag") : linked);
    if (f.etag.empty() || f.etag.find('/') != std::string::npos || f.etag.size() > 128) {
      throw Error("the server sent no usable ETag for " + f.url);
    }
    std::string size = linked.empty() ? resp.header("content-length") : resp.header("x-linked-size");
    if (!size.empty()) f.size = std::strtoull(size.c_str(), nullptr, 10);
    return f;
  }

  void mark_missing(const std::string& path) {
    // What the Python library records so that offline lookups know the file does not exist.
    if (commit_.empty()) return;
    std::error_code ec;
    fs::path p = repo_dir_ / ".no_exist" / commit_ / path;
    fs::create_directories(p.parent_path(), ec);
    if (!fs::exists(p, ec)) write_text_atomic(p, "");
  }

  // Fetches one file into the cache when the revision has it. Returns whether it exists.
  bool fetch(const std::string& path, bool required) {
    if (fetched_.count(path)) return true;
    if (!listed(path)) {
      if (required) {
        throw Error("required file " + path + " is not in " + name_.repo_id + "@" +
                    name_.revision + " (" + url_for(path) + ")");
      }
      return false;
    }
    auto remote = head(path, required);
    if (!remote) return false;
    fs::path blob = repo_dir_ / "blobs" / remote->etag;
    std::error_code ec;
    if (!fs::is_regular_file(blob, ec)) download_blob(*remote, blob);
    link_snapshot(path, remote->etag);
    fetched_.insert(path);
    return true;
  }

  void download_blob(const RemoteFile& f, const fs::path& blob) {
    std::error_code ec;
    fs::create_directories(blob.parent_path(), ec);
    BlobLock lock(repo_dir_.parent_path() / ".locks" / repo_dir_.filename() /
                  (f.etag + ".lock"));
    if (fs::is_regular_file(blob, ec)) return;  // another process finished it meanwhile
    fs::path partial = blob;
    partial += ".incomplete";
    std::string label = f.path;
    for (int attempt = 1;; ++attempt) {
      HttpResponse resp;
      std::string broke;
      try {
        resp = http_.download(f.url, partial, label, f.size);
      } catch (const TransferError& e) {
        broke = e.message;
      }
      if (broke.empty() && resp.status == 416) {
        // The partial file is not a prefix the server can continue: start over.
        fs::remove(partial, ec);
        broke = "HTTP 416 for a resumed download of " + f.url;
      } else if (broke.empty() && (resp.status < 200 || resp.status >= 300)) {
        throw http_error(resp, true);
      } else if (broke.empty() && f.size > 0) {
        std::uint64_t have = fs::file_size(partial, ec);
        if (!ec && have < f.size) {
          broke = "download of " + f.url + " ended early (" + std::to_string(have) + " of " +
                  std::to_string(f.size) + " bytes)";
        } else if (!ec && have > f.size) {
          fs::remove(partial, ec);
          throw Error("download of " + f.url + " is larger than announced (" +
                      std::to_string(have) + " > " + std::to_string(f.size) +
                      " bytes); the partial file was deleted");
        }
      }
      if (broke.empty()) break;
      if (attempt >= kMaxAttempts) {
        throw Error(broke + "; gave up after " + std::to_string(kMaxAttempts) +
                    " attempts, the partial file " + partial.string() +
                    " is kept and the next run resumes it");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    }
    if (is_sha256_hex(f.etag)) {
      std::string got = sha256_file_hex(partial);
      if (got != f.etag) {
        fs::remove(partial, ec);
        throw Error("checksum mismatch for " + f.url + ": expected sha256 " + f.etag + ", got " +
                    got + "; the download was deleted");
      }
    }
    fs::rename(partial, blob, ec);
    if (ec) throw Error(blob.string() + ": cannot move the download into place: " + ec.message());
  }

  void link_snapshot(const std::string& path, const std::string& etag) {
    fs::path link = snapshot() / path;
    std::string target;
    size_t depth = std::count(path.begin(), path.end(), '/');
    for (size_t i = 0; i < depth + 2; ++i) target += "../";
    target += "blobs/" + etag;
    std::error_code ec;
    fs::create_directories(link.parent_path(), ec);
    if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec).string() == target) return;
    fs::path tmp = link;
    tmp += ".tmp-link." + std::to_string(::getpid());
    fs::remove(tmp, ec);
    fs::create_symlink(target, tmp, ec);
    if (ec) throw Error(link.string() + ": cannot create the snapshot link: " + ec.message());
    fs::rename(tmp, link, ec);
    if (ec) {
      fs::remove(tmp, ec);
      throw Error(link.string() + ": cannot create the snapshot link");
    }
  }

  void fetch_weights(const std::string& dir, bool required) {
    // In the loaders' order of preference (safetensors first: no pickle, mmap-able), each whole
    // or sharded.
    std::string names;
    for (const std::string& f : model::weight_file_names()) {
      if (model::is_index_file(f) ? fetch_sharded(dir, f) : fetch(join(dir, f), false)) return;
      names += (names.empty() ? "" : ", ") + f;
    }
    if (required) {
      throw Error("no weights in " + name_.repo_id + "@" + name_.revision +
                  (dir.empty() ? "" : "/" + dir) + ": none of " + names + " at " +
                  url_for(join(dir, model::weight_file_names().front())));
    }
  }

  bool fetch_sharded(const std::string& dir, const std::string& index_name) {
    std::string index = join(dir, index_name);
    if (!fetch(index, false)) return false;
    std::set<std::string> shards;
    try {
      auto j = parse_json(read_text(snapshot() / index).value_or(""));
      for (auto& [k, v] : j.at("weight_map").items()) shards.insert(v.get<std::string>());
    } catch (const std::exception& e) {
      throw Error(url_for(index) + ": invalid index file (" + e.what() + ")");
    }
    for (const auto& s : shards) {
      check_relative_path(s, url_for(index));
      fetch(join(dir, s), true);
    }
    return true;
  }

  void fetch_transformer(const std::string& dir) {
    fetch(join(dir, "config.json"), true);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                          "vocab.txt", "vocab.json", "merges.txt", "added_tokens.json",
                          "sentencepiece.bpe.model", "spiece.model", "tokenizer.model",
                          "sentence_bert_config.json"}) {
      fetch(join(dir, f), false);
    }
    // Sentencepiece models under other names: whatever tokenizer_config.json names, and with a
    // listing every *.model file of the folder.
    if (auto text = read_text(snapshot() / join(dir, "tokenizer_config.json"))) {
      try {
        auto j = parse_json(*text);
        if (j.contains("vocab_file") && j["vocab_file"].is_string()) {
          std::string v = j["vocab_file"].get<std::string>();
          if (v.find('/') == std::string::npos && !v.empty() && v != "." && v != "..") {
            fetch(join(dir, v), false);
          }
        }
      } catch (const std::exception&) {
      }
    }
    if (listing_) {
      std::string prefix = dir.empty() ? "" : dir + "/";
      for (const auto& f : *listing_) {
        if (f.rfind(prefix, 0) != 0) continue;
        std::string rest = f.substr(prefix.size());
        if (rest.find('/') == std::string::npos && rest.size() > 6 &&
            rest.compare(rest.size() - 6, 6, ".model") == 0) {
          fetch(f, false);
        }
      }
    }
    fetch_weights(dir, true);
  }

  void fetch_module(const std::string& dir, bool may_have_weights) {
    if (listing_) {
      // Everything in the module folder (configs and weights are small for these modules),
      // but only one weight format.
      bool has_st = listing_->count(dir + "/model.safetensors") > 0;
      for (const auto& f : *listing_) {
        if (f.rfind(dir + "/", 0) != 0) continue;
        if (has_st && f == dir + "/pytorch_model.bin") continue;
        check_relative_path(f, "listing of " + name_.repo_id);
        fetch(f, false);
      }
      return;
    }
    fetch(join(dir, "config.json"), false);
    if (may_have_weights && !fetch(join(dir, "model.safetensors"), false)) {
      fetch(join(dir, "pytorch_model.bin"), false);
    }
  }

  ModelName name_;
  std::string endpoint_;
  fs::path repo_dir_;
  HttpClient http_;
  bool has_token_;
  std::string commit_;
  std::optional<std::set<std::string>> listing_;
  std::set<std::string> fetched_;
};

fs::path expand_home(const std::string& s) {
  if (s == "~" || s.rfind("~/", 0) == 0) {
    std::string home = getenv_str("HOME");
    if (!home.empty()) return fs::path(home + s.substr(1));
  }
  return fs::path(s);
}

}  // namespace

fs::path download_model(const std::string& name, const ResolveOptions& options) {
  ModelName mn = parse_model_name(name);
  if (options.offline || offline_from_env()) {
    throw Error("cannot download " + name +
                ": offline mode (--offline or HF_HUB_OFFLINE=1); looked in " +
                repo_cache_dir(mn.repo_id, options).string());
  }
  return Downloader(mn, options).run();
}

fs::path resolve_model(const std::string& name_or_path, const ResolveOptions& options) {
  if (name_or_path.empty()) throw Error("empty model name");
  std::error_code ec;
  fs::path as_path = expand_home(name_or_path);
  if (fs::is_directory(as_path, ec)) return as_path;
  if (looks_like_path(name_or_path)) {
    throw Error("model folder not found: " + name_or_path);
  }
  ModelName mn = parse_model_name(name_or_path);
  fs::path repo_dir = repo_cache_dir(mn.repo_id, options);
  auto commit = cached_commit(repo_dir, mn.revision);
  if (commit) {
    fs::path snap = repo_dir / "snapshots" / *commit;
    if (snapshot_complete(snap)) return snap;
  }
  if (options.offline || offline_from_env()) {
    if (commit) {
      throw Error("model " + name_or_path + " is only partly in the hub cache (offline mode): " +
                  (repo_dir / "snapshots" / *commit).string() + " lacks config.json or weights");
    }
    throw Error("model " + name_or_path + " is not in the hub cache (offline mode): looked in " +
                (repo_dir / (is_commit_hash(mn.revision) ? "snapshots" : "refs") / mn.revision)
                    .string());
  }
  return Downloader(mn, options).run();
}

}  // namespace sbert::hub
