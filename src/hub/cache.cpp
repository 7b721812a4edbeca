// Names, environment and the hub cache layout (shared with the Python huggingface_hub library).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hub/cache_layout.h"
#include "sbert/json_parse.h"
#include "sbert/error.h"
#include "sbert/hub.h"
#include "sbert/model_folder.h"

namespace sbert::hub {

namespace fs = std::filesystem;

namespace detail {

std::string getenv_str(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

static bool all_hex(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_commit_hash(const std::string& s) { return all_hex(s, 40); }
bool is_sha256_hex(const std::string& s) { return all_hex(s, 64); }

void check_relative_path(const std::string& path, const std::string& what) {
  if (path.empty() || path.front() == '/' || path.find('\\') != std::string::npos ||
      path.find('\0') != std::string::npos) {
    throw Error(what + ": invalid file path '" + path + "'");
  }
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (part.empty() || part == "." || part == "..") {
      throw Error(what + ": invalid file path '" + path + "'");
    }
  }
}

std::optional<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text_atomic(const fs::path& path, const std::string& content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw Error(path.string() + ": cannot write");
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(path.string() + ": cannot write (rename failed)");
  }
}

static std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::optional<std::string> cached_commit(const fs::path& repo_dir, const std::string& revision) {
  std::error_code ec;
  if (is_commit_hash(revision) && fs::is_directory(repo_dir / "snapshots" / revision, ec)) {
    return revision;
  }
  if (auto text = read_text(repo_dir / "refs" / revision)) {
    std::string commit = trim(*text);
    if (is_commit_hash(commit)) return commit;
  }
  return std::nullopt;
}

static bool has_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);  // follows symlinks: a dangling link is "missing"
}

static bool folder_has_weights(const fs::path& dir) {
  for (const std::string& name : model::weight_file_names()) {
    if (!model::is_index_file(name)) {
      if (has_file(dir / name)) return true;
      continue;
    }
    auto text = read_text(dir / name);
    if (!text) continue;
    try {
      auto j = parse_json(*text);
      bool all = true;
      for (auto& [k, v] : j.at("weight_map").items()) {
        if (!v.is_string() || !has_file(dir / v.get<std::string>())) all = false;
      }
      if (all) return true;
    } catch (const std::exception&) {
    }
  }
  return false;
}

bool snapshot_complete(const fs::path& snapshot) {
  std::vector<fs::path> transformer_dirs;
  if (auto text = read_text(snapshot / "modules.json")) {
    try {
      auto modules = parse_json(*text);
      for (auto& m : modules) {
        std::string type = m.value("type", "");
        std::string path = m.value("path", "");
        if (path.empty() || type.find("Transformer") != std::string::npos) {
          transformer_dirs.push_back(path.empty() ? snapshot : snapshot / path);
        } else if (!fs::exists(snapshot / path)) {
          // Modules without files of their own (Normalize) have no folder; others must be there
          // whenever the module needs a config.
          if (type.find("Normalize") == std::string::npos) return false;
        }
      }
    } catch (const std::exception&) {
      return false;
    }
  }
  if (transformer_dirs.empty()) transformer_dirs.push_back(snapshot);
  for (const auto& dir : transformer_dirs) {
    if (!has_file(dir / "config.json") || !folder_has_weights(dir)) return false;
  }
  return true;
}

std::string resolve_token(const ResolveOptions& options) {
  if (!options.token.empty()) return options.token;
  std::string t = trim(getenv_str("HF_TOKEN"));
  if (!t.empty()) return t;
  t = trim(getenv_str("HUGGING_FACE_HUB_TOKEN"));
  if (!t.empty()) return t;
  fs::path token_file;
  if (std::string p = getenv_str("HF_TOKEN_PATH"); !p.empty()) {
    token_file = p;
  } else {
    std::string home = getenv_str("HF_HOME");
    if (home.empty()) {
      std::string xdg = getenv_str("XDG_CACHE_HOME");
      if (xdg.empty()) {
        std::string h = getenv_str("HOME");
        if (h.empty()) return {};
        xdg = h + "/.cache";
      }
      home = xdg + "/huggingface";
    }
    token_file = fs::path(home) / "token";
  }
  if (auto text = read_text(token_file)) return trim(*text);
  return {};
}

std::string resolve_endpoint(const ResolveOptions& options) {
  std::string e = options.endpoint.empty() ? getenv_str("HF_ENDPOINT") : options.endpoint;
  if (e.empty()) e = "https://huggingface.co";
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

}  // namespace detail

using namespace detail;

static bool valid_name_part(const std::string& s) {
  if (s.empty() || s.size() > 96) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  if (s.front() == '-' || s.front() == '.' || s.back() == '-' || s.back() == '.') return false;
  if (s.find("--") != std::string::npos || s.find("..") != std::string::npos) return false;
  return true;
}

ModelName parse_model_name(const std::string& name) {
  auto bad = [&](const std::string& why) {
    return Error("malformed model name '" + name + "': " + why +
                 " (expected a folder or org/name[@revision])");
  };
  ModelName out;
  std::string repo = name;
  if (auto at = name.find('@'); at != std::string::npos) {
    repo = name.substr(0, at);
    out.revision = name.substr(at + 1);
    if (out.revision.empty()) throw bad("empty revision after '@'");
    for (char c : out.revision) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
            c == '/')) {
        throw bad("invalid character in revision");
      }
    }
    if (out.revision.front() == '/' || out.revision.back() == '/' ||
        out.revision.find("..") != std::string::npos ||
        out.revision.find("//") != std::string::npos) {
      throw bad("invalid revision");
    }
  } else {
    out.revision = "main";
  }
  auto slash = repo.find('/');
  if (slash == std::string::npos) throw bad("no '/' between organisation and name");
  if (repo.find('/', slash + 1) != std::string::npos) throw bad("more than one '/'");
  std::string org = repo.substr(0, slash), model = repo.substr(slash + 1);
  if (!valid_name_part(org)) throw bad("invalid organisation '" + org + "'");
  if (!valid_name_part(model)) throw bad("invalid model name '" + model + "'");
  out.repo_id = repo;
  return out;
}

bool looks_like_path(const std::string& s) {
  if (s.empty()) return false;
  if (s[0] == '/' || s[0] == '.' || s[0] == '~') return true;
  std::error_code ec;
  return fs::exists(s, ec);
}

fs::path cache_dir(const ResolveOptions& options) {
  if (!options.cache_dir.empty()) return options.cache_dir;
  if (std::string c = getenv_str("HF_HUB_CACHE"); !c.empty()) return c;
  if (std::string c = getenv_str("HUGGINGFACE_HUB_CACHE"); !c.empty()) return c;
  if (std::string h = getenv_str("HF_HOME"); !h.empty()) return fs::path(h) / "hub";
  if (std::string x = getenv_str("XDG_CACHE_HOME"); !x.empty()) {
    return fs::path(x) / "huggingface" / "hub";
  }
  std::string home = getenv_str("HOME");
  if (home.empty()) throw Error("cannot locate the hub cache: set HF_HOME or HF_HUB_CACHE");
  return fs::path(home) / ".cache" / "huggingface" / "hub";
}

fs::path repo_cache_dir(const std::string& repo_id, const ResolveOptions& options) {
  std::string folder = "models--" + repo_id;
  for (size_t i = 0; (i = folder.find('/', i)) != std::string::npos; i += 2) {
    folder.replace(i, 1, "--");
  }
  return cache_dir(options) / folder;
}

bool offline_from_env() {
  for (const char* var : {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}) {
    std::string v = getenv_str(var);
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
    if (v == "1" || v == "ON" || v == "YES" || v == "TRUE") return true;
  }
  return false;
}

std::string default_model_name() {
  std::string m = getenv_str("SBERT_MODEL");
  return m.empty() ? "sentence-transformers/all-MiniLM-L6-v2" : m;
}

std::vector<CachedModel> list_cached_models(const ResolveOptions& options) {
  std::vector<CachedModel> out;
  fs::path root = cache_dir(options);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::string folder = entry.path().filename().string();
    if (folder.rfind("models--", 0) != 0 || !entry.is_directory(ec)) continue;
    CachedModel m;
    m.path = entry.path();
    m.name = folder.substr(8);
    if (auto p = m.name.find("--"); p != std::string::npos) m.name.replace(p, 2, "/");
    std::map<std::string, std::vector<std::string>> refs_by_commit;
    fs::path refs = m.path / "refs";
    if (fs::is_directory(refs, ec)) {
      for (auto it = fs::recursive_directory_iterator(refs, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec || !it->is_regular_file(ec)) continue;
        auto text = read_text(it->path());
        if (!text) continue;
        std::string commit = trim(*text);
        refs_by_commit[commit].push_back(fs::relative(it->path(), refs, ec).generic_string());
      }
    }
    fs::path snaps = m.path / "snapshots";
    if (fs::is_directory(snaps, ec)) {
      for (const auto& s : fs::directory_iterator(snaps, ec)) {
        CachedRevision r;
        r.commit = s.path().filename().string();
        r.snapshot = s.path();
        auto it = refs_by_commit.find(r.commit);
        if (it != refs_by_commit.end()) {
          r.refs = it->second;
          std::sort(r.refs.begin(), r.refs.end());
        }
        m.revisions.push_back(std::move(r));
      }
    }
    std::sort(m.revisions.begin(), m.revisions.end(),
              [](const auto& a, const auto& b) { return a.commit < b.commit; });
    fs::path blobs = m.path / "blobs";
    if (fs::is_directory(blobs, ec)) {
      for (const auto& b : fs::directory_iterator(blobs, ec)) {
        struct stat st;
        if (::lstat(b.path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
          m.size_bytes += std::uintmax_t(st.st_size);
        }
      }
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace sbert::hub
