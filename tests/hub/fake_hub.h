// Test helper: runs tests/hub/fake_hub_server.py (a local stand-in for the Hugging Face hub on
// 127.0.0.1) and builds the folder it serves from a fixture model.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace sbert::testing {

// Lays out root/{org}/{name}/resolve/<commit>/<files of model_dir> with `main` -> <commit>.
inline std::filesystem::path make_hub_root(const std::filesystem::path& root,
                                           const std::filesystem::path& model_dir,
                                           const std::string& repo_id, const std::string& commit) {
  namespace fs = std::filesystem;
  fs::path resolve = root / repo_id / "resolve";
  fs::create_directories(resolve);
  fs::copy(model_dir, resolve / commit, fs::copy_options::recursive);
  // Fixture files are read-only; make the copy writable so temp dirs can be cleaned.
  for (auto& e : fs::recursive_directory_iterator(resolve / commit)) {
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  }
  fs::create_directory_symlink(commit, resolve / "main");
  return resolve / commit;
}

// The SHA-256 of a file as sha256sum computes it (independent of sbert's own implementation).
inline std::string sha256sum(const std::filesystem::path& p) {
  std::string out;
  EXPECT_EQ(run_command("sha256sum '" + p.string() + "'", &out), 0);
  return out.substr(0, 64);
}

class FakeHub {
 public:
  FakeHub(const std::filesystem::path& root, const std::vector<std::string>& extra_args = {}) {
    namespace fs = std::filesystem;
    fs::path work = temp_dir("fakehub");
    port_file_ = work / "port";
    log_ = work / "requests.jsonl";
    std::vector<std::string> args = {"python3",
                                     (source_dir() / "tests/hub/fake_hub_server.py").string(),
                                     "--root", root.string(), "--port-file", port_file_.string(),
                                     "--log", log_.string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(port_file_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    std::string port = read_file(port_file_);
    if (port.empty()) {
      stop();
      throw std::runtime_error("fake hub server did not start");
    }
    endpoint_ = "http://127.0.0.1:" + port;
  }
  ~FakeHub() { stop(); }
  FakeHub(const FakeHub&) = delete;
  FakeHub& operator=(const FakeHub&) = delete;

  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }
  const std::string& endpoint() const { return endpoint_; }

  // Every request so far: {method, path, range, auth}.
  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path port_file_, log_;
  std::string endpoint_;
};

}  // namespace sbert::testing
