#include "sbert/output_file.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include "sbert/error.h"

namespace sbert {
namespace {

// ---- temporaries removed on SIGINT/SIGTERM/SIGHUP (only async-signal-safe calls in the handler)
constexpr int kSlots = 256;
std::atomic<const char*> g_cleanup[kSlots];

extern "C" void cleanup_and_reraise(int sig) {
  // Files first, then folders (innermost were registered last), each only if empty.
  for (int i = 0; i < kSlots; ++i) {
    const char* p = g_cleanup[i].load();
    if (p) ::unlink(p);
  }
  for (int pass = 0; pass < 2; ++pass)
    for (int i = kSlots; i-- > 0;) {
      const char* p = g_cleanup[i].load();
      if (p) ::rmdir(p);
    }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_handlers_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0) continue;
      if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) continue;  // someone else's
      struct sigaction sa {};
      sa.sa_handler = cleanup_and_reraise;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESETHAND;
      ::sigaction(sig, &sa, nullptr);
    }
  });
}

int register_cleanup(const char* path) {
  install_handlers_once();
  for (int i = 0; i < kSlots; ++i) {
    const char* expected = nullptr;
    if (g_cleanup[i].compare_exchange_strong(expected, path)) return i;
  }
  return -1;  // table full: the temporary is still removed on errors, only not on signals
}

void unregister_cleanup(int& slot) {
  if (slot >= 0) g_cleanup[slot].store(nullptr);
  slot = -1;
}

std::string errno_text() { return std::strerror(errno); }

std::string dir_of(const std::string& p) {
  size_t s = p.rfind('/');
  if (s == std::string::npos) return ".";
  return s == 0 ? "/" : p.substr(0, s);
}

// Follows a chain of symlinks to the final path, which need not exist (a dangling link names the
// file to create).
std::string resolve_links(const std::string& path) {
  std::string p = path;
  for (int depth = 0; depth < 40; ++depth) {
    struct stat ls {};
    if (::lstat(p.c_str(), &ls) != 0 || !S_ISLNK(ls.st_mode)) return p;
    char buf[PATH_MAX];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
    if (n < 0) throw Error("cannot resolve symlink " + p + ": " + errno_text());
    std::string target(buf, static_cast<size_t>(n));
    p = (!target.empty() && target[0] == '/') ? target : dir_of(p) + "/" + target;
  }
  throw Error("cannot write " + path + ": too many levels of symbolic links");
}

// The folder part made absolute and free of links and "." / "..", so two names of one file
// compare equal; the name part is kept.
std::string canonical_dir(const std::string& p) {
  const std::string dir = dir_of(p);
  const size_t s = p.rfind('/');
  const std::string base = s == std::string::npos ? p : p.substr(s + 1);
  char buf[PATH_MAX];
  if (!::realpath(dir.c_str(), buf)) return p;  // mkstemp reports the missing folder
  std::string out = buf;
  return (out == "/" ? out : out + "/") + base;
}

bool under_special_fs(const std::string& p) {
  return p.rfind("/dev/", 0) == 0 || p.rfind("/proc/", 0) == 0;
}

}  // namespace

AtomicOutput::AtomicOutput(std::string path, bool binary) : path_(std::move(path)) {
  const char* mode = binary ? "wb" : "w";
  if (path_.empty() || path_ == "-" || path_ == "/dev/stdout" || path_ == "/dev/fd/1" ||
      path_ == "/proc/self/fd/1") {
    to_stdout_ = true;
    file_ = stdout;
    return;
  }
  struct stat st {};
  const bool exists = ::stat(path_.c_str(), &st) == 0;  // follows symlinks
  if (exists && S_ISDIR(st.st_mode)) throw Error("cannot write " + path_ + ": it is a directory");
  if (under_special_fs(path_) || (exists && !S_ISREG(st.st_mode))) {
    // A device, FIFO or socket: written in place, never replaced by a regular file.
    int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw Error("cannot open output " + path_ + ": " + errno_text());
    file_ = fdopen(fd, mode);
    if (!file_) {
      ::close(fd);
      throw Error("cannot open output " + path_ + ": " + errno_text());
    }
    streamed_ = true;
    return;
  }
  target_ = canonical_dir(resolve_links(path_));
  mode_t file_mode;
  if (exists) {
    const bool writable = ::geteuid() == 0 ? (st.st_mode & 0222) != 0 : ::access(target_.c_str(), W_OK) == 0;
    if (!writable) throw Error("cannot write " + path_ + ": the file is not writable (permission denied)");
    file_mode = st.st_mode & 07777;
  } else {
    mode_t mask = ::umask(0);
    ::umask(mask);
    file_mode = 0666 & ~mask;
  }
  temp_path_ = target_ + ".tmp-XXXXXX";
  int fd = mkstemp(temp_path_.data());
  if (fd < 0) throw Error("cannot create output " + path_ + ": " + errno_text());
  cleanup_slot_ = register_cleanup(temp_path_.c_str());
  ::fchmod(fd, file_mode);
  if (exists && ::geteuid() == 0 && (st.st_uid != 0 || st.st_gid != 0)) {
    if (::fchown(fd, st.st_uid, st.st_gid) != 0) { /* best effort */ }
  }
  file_ = fdopen(fd, mode);
  if (!file_) {
    std::string why = errno_text();
    ::close(fd);
    discard();
    throw Error("cannot open output " + path_ + ": " + why);
  }
}

void AtomicOutput::discard() {
  if (!temp_path_.empty()) std::remove(temp_path_.c_str());
  unregister_cleanup(cleanup_slot_);
}

AtomicOutput::~AtomicOutput() {
  if (to_stdout_) {
    std::fflush(stdout);
    return;
  }
  if (file_) std::fclose(file_);
  file_ = nullptr;
  if (!committed_) discard();
  unregister_cleanup(cleanup_slot_);
}

void AtomicOutput::check(bool ok) {
  if (ok) return;
  if (errno == EPIPE) {
    // The reader went away (`| head`): stop quietly, as Unix tools do.
    std::_Exit(0);
  }
  throw Error("cannot write " + (to_stdout_ ? std::string("standard output") : path_) + ": " +
              std::strerror(errno));
}

void AtomicOutput::write(std::string_view data) { write(data.data(), data.size()); }

void AtomicOutput::write(const void* data, size_t size) {
  if (size == 0) return;
  if (!file_) throw Error("cannot write " + path_ + ": output already finished");
  errno = 0;
  check(std::fwrite(data, 1, size, file_) == size);
}

void AtomicOutput::flush() {
  if (!file_) return;
  errno = 0;
  check(std::fflush(file_) == 0);
}

void AtomicOutput::finish_file() {
  if (to_stdout_ || !file_) {
    flush();
    return;
  }
  flush();
  errno = 0;
  bool ok = streamed_ || ::fsync(fileno(file_)) == 0;
  if (!ok && (errno == EINVAL || errno == EROFS)) ok = true;  // fsync unsupported here
  std::string why = ok ? "" : errno_text();
  if (std::fclose(file_) != 0 && ok) {
    ok = false;
    why = errno_text();
  }
  file_ = nullptr;
  if (!ok) {
    discard();
    committed_ = true;  // nothing left to do
    throw Error("cannot write " + path_ + ": " + why);
  }
}

void AtomicOutput::rename_into_place() {
  if (to_stdout_ || streamed_ || committed_) {
    committed_ = true;
    return;
  }
  committed_ = true;
  if (std::rename(temp_path_.c_str(), target_.c_str()) != 0) {
    std::string why = errno_text();
    discard();
    throw Error("cannot write " + path_ + ": " + why);
  }
  unregister_cleanup(cleanup_slot_);
}

void AtomicOutput::commit() {
  if (committed_) return;
  finish_file();
  rename_into_place();
}

AtomicOutput& OutputGroup::add(const std::string& path, bool binary) {
  auto out = std::make_unique<AtomicOutput>(path, binary);
  if (!out->is_stdout() && !out->is_streamed()) {
    for (const auto& o : outputs_)
      if (!o->is_stdout() && !o->is_streamed() && o->target_ == out->target_)
        throw Error("two outputs write to the same file " + path);
  }
  outputs_.push_back(std::move(out));
  return *outputs_.back();
}

void OutputGroup::commit() {
  for (auto& o : outputs_)
    if (!o->committed_) o->finish_file();
  for (auto& o : outputs_) o->rename_into_place();
}

TempPathGuard::TempPathGuard(std::string path) : path_(std::move(path)) {
  slot_ = register_cleanup(path_.c_str());
}
TempPathGuard::~TempPathGuard() { release(); }
void TempPathGuard::release() { unregister_cleanup(slot_); }

OutputDirectory::OutputDirectory(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::vector<std::string> missing;  // innermost first
  for (std::string q = p; !q.empty() && q != "/" && q != ".";) {
    struct stat st {};
    if (::stat(q.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) throw Error("cannot create folder " + path + ": " + q + " is not a folder");
      break;
    }
    missing.push_back(q);
    size_t s = q.rfind('/');
    if (s == std::string::npos) break;
    q = q.substr(0, s);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0777) != 0 && errno != EEXIST)
      throw Error("cannot create folder " + *it + ": " + errno_text());
    created_.insert(created_.begin(), *it);
    guards_.push_back(std::make_unique<TempPathGuard>(*it));
  }
}

OutputDirectory::~OutputDirectory() {
  guards_.clear();
  if (keep_) return;
  for (const std::string& d : created_) ::rmdir(d.c_str());  // only succeeds when empty
}

void OutputDirectory::keep() {
  keep_ = true;
  guards_.clear();
}

}  // namespace sbert
