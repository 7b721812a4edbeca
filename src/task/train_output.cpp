// The output folder of `sbert train`: checks before a run and the clean-up after runs killed
// during a save (see include/sbert/train.h).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>

#include "sbert/error.h"
#include "sbert/train.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

// Whether `path` is `folder` or lies inside it (both absolute and normal).
bool within(const fs::path& path, const fs::path& folder) {
  auto p = path.begin(), f = folder.begin();
  for (; f != folder.end(); ++f, ++p) {
    if (f->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *f) return false;
  }
  return true;
}

fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).lexically_normal() : r;
}

bool process_running(long pid) {
  if (pid <= 0) return false;
  if (pid == static_cast<long>(::getpid())) return true;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// ".NAME.tmp-PID" / ".NAME.old-PID" -> PID (0 when `entry` is not one of NAME's).
long staging_pid(const std::string& entry, const std::string& name, const std::string& kind) {
  const std::string prefix = "." + name + "." + kind + "-";
  if (entry.size() <= prefix.size() || entry.compare(0, prefix.size(), prefix) != 0) return 0;
  const std::string digits = entry.substr(prefix.size());
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stol(digits);
}

}  // namespace

fs::path train_output_folder(const fs::path& out) {
  fs::path p = out;
  while (!p.empty() && p.filename().empty() && p != p.root_path()) p = p.parent_path();  // model/ -> model
  const std::string name = p.filename().string();
  if (p.empty() || name.empty() || name == "." || name == "..")
    throw Error("-o " + out.string() + ": the output must be a folder of its own (e.g. -o ./model), not '" +
                out.string() + "'");
  return p;
}

fs::path train_staging_path(const fs::path& out_dir, const char* kind, long pid) {
  const fs::path out = train_output_folder(out_dir);
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  return parent / ("." + out.filename().string() + "." + kind + "-" + std::to_string(pid));
}

std::vector<std::string> prepare_train_output(const fs::path& given, const std::vector<TrainInput>& inputs) {
  const std::string shown = "-o " + given.string();
  std::error_code ec;
  // The current directory (or one above it) cannot be renamed into place: -o . is refused before
  // anything is written.
  const fs::path target = resolved(given);
  if (within(resolved(fs::current_path(ec)), target))
    throw Error(shown + ": the output folder is the current directory or holds it; give a folder of its own "
                        "(e.g. -o ./model)");
  const fs::path out = train_output_folder(given);
  const fs::file_status st = fs::symlink_status(out, ec);
  if (fs::is_symlink(st)) {
    if (!fs::exists(out, ec))
      throw Error(shown + ": is a dangling symbolic link (to " + fs::read_symlink(out, ec).string() +
                  "); give the output folder itself");
    throw Error(shown + ": is a symbolic link (to " + fs::read_symlink(out, ec).string() +
                "); give the output folder itself (the save would replace the link)");
  }
  if (fs::exists(st) && !fs::is_directory(st)) throw Error(shown + ": exists and is not a folder");
  const fs::path out_abs = resolved(out);
  for (const TrainInput& in : inputs) {
    if (in.path.empty()) continue;
    if (within(resolved(in.path), out_abs))
      throw Error(shown + ": the output folder contains the input " + in.option + " " + in.path.string() +
                  " (replacing the folder would delete it); write the model elsewhere");
  }

  // Earlier runs killed during a save.
  std::vector<std::string> done;
  const std::string name = out.filename().string();
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  std::map<long, std::pair<fs::path, fs::path>> stale;  // pid -> (tmp, old)
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    for (const char* kind : {"tmp", "old"}) {
      const long pid = staging_pid(entry, name, kind);
      if (pid == 0 || process_running(pid)) continue;
      (std::string(kind) == "tmp" ? stale[pid].first : stale[pid].second) = it->path();
    }
  }
  if (!fs::exists(out, ec)) {
    // Killed between "previous folder aside" and "new folder into place": the new one is whole
    // (it was finished before the previous one moved), so it becomes the output.
    for (auto it = stale.rbegin(); it != stale.rend(); ++it) {
      const auto& [tmp, old] = it->second;
      if (old.empty()) continue;
      const fs::path use = !tmp.empty() ? tmp : old;
      fs::rename(use, out, ec);
      if (ec) throw Error(shown + ": cannot complete the interrupted save " + use.string() + ": " + ec.message());
      done.push_back("completed an interrupted save: " + use.string() + " -> " + out.string());
      (use == tmp ? it->second.first : it->second.second).clear();
      break;
    }
  }
  size_t removed = 0;
  for (const auto& [pid, paths] : stale)
    for (const fs::path& p : {paths.first, paths.second}) {
      if (p.empty()) continue;
      fs::remove_all(p, ec);
      if (ec) throw Error(shown + ": cannot remove the stale temporary " + p.string() + ": " + ec.message());
      ++removed;
    }
  if (removed)
    done.push_back("removed " + std::to_string(removed) + " stale temporary folder" + (removed == 1 ? "" : "s") +
                   " of earlier runs beside " + out.string());
  return done;
}

}  // namespace sbert
