#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sbert::testing {

namespace fs = std::filesystem;

fs::path source_dir() {
  if (const char* s = std::getenv("SBERT_SOURCE_DIR")) return s;
#ifdef SBERT_SOURCE_DIR
  return SBERT_SOURCE_DIR;
#else
  return fs::current_path();
#endif
}

std::optional<fs::path> shared_dir() {
  fs::path p;
  if (const char* s = std::getenv("SBERT_SHARED"); s && *s) {
    p = s;
  } else {
    p = source_dir() / ".." / "shared";
  }
  std::error_code ec;
  if (!fs::is_directory(p / "fixtures", ec)) return std::nullopt;
  return fs::weakly_canonical(p);
}

nlohmann::json load_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return {};
  }
  return nlohmann::json::parse(in);
}

fs::path temp_dir(const std::string& name) {
  std::string tmpl = (fs::temp_directory_path() / ("sbert-test-" + name + "-XXXXXX")).string();
  char* made = mkdtemp(tmpl.data());
  if (!made) throw std::runtime_error("mkdtemp failed");
  return fs::path(made);
}

fs::path copy_folder(const fs::path& src, const std::string& name, const std::vector<std::string>& leave_out) {
  const fs::path dst = temp_dir(name);
  for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path rel = fs::relative(it->path(), src);
    if (std::find(leave_out.begin(), leave_out.end(), rel.generic_string()) != leave_out.end()) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory()) {
      fs::create_directories(dst / rel);
      fs::permissions(dst / rel, fs::perms::owner_all, fs::perm_options::add);
    } else {
      fs::copy_file(it->path(), dst / rel, fs::copy_options::overwrite_existing);
      fs::permissions(dst / rel, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    }
  }
  return dst;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

int run_command(const std::string& cmd, std::string* out, std::string* err) {
  fs::path errfile;
  std::string full = cmd;
  if (err) {
    errfile = temp_dir("stderr") / "err.txt";
    full = "(" + cmd + ") 2>" + errfile.string();
  }
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  std::string buf;
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) buf.append(chunk, n);
  int status = pclose(p);
  if (out) *out = std::move(buf);
  if (err) *err = read_file(errfile);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace sbert::testing
