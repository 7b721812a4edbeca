// Output that is never half-written: a named regular file (or a new path) is written to a
// temporary file beside it and renamed into place by commit(); destroying an uncommitted
// AtomicOutput removes the temporary. An empty path or "-" writes to stdout; a closed pipe (EPIPE)
// ends the program quietly.
//
// What is at the path decides how it is written:
//  - nothing, or a regular file: temporary + rename. A replaced file keeps its permission bits
//    (and, for root, its owner); a new file gets 0666 & ~umask.
//  - a symlink: resolved (all levels); the file it points to is replaced, the link stays.
//  - a character device, FIFO or socket, and any path under /dev or /proc (/dev/stdout,
//    /dev/fd/N): opened and written directly (streamed), never replaced.
//  - a directory: an error.
// A regular file the user cannot write is refused. For root, who may write anything, "cannot
// write" means the file has no write bit at all (0444): such a file is refused too, so `-o` never
// silently replaces a file that was made read-only.
//
// While a temporary exists, SIGINT/SIGTERM/SIGHUP remove it before the process dies (the
// handlers are installed on first use, only where the signal still has its default action).
#pragma once
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sbert {

class AtomicOutput {
 public:
  explicit AtomicOutput(std::string path, bool binary = false);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  void write(std::string_view data);
  void write(const void* data, size_t size);
  void flush();
  // Finishes the file (fsync + rename for a named file). Throws sbert::Error on failure.
  void commit();
  bool is_stdout() const { return to_stdout_; }
  // True when the path is written in place (device, FIFO, /dev/...): nothing to rename.
  bool is_streamed() const { return streamed_; }
  const std::string& path() const { return path_; }

 private:
  friend class OutputGroup;
  void check(bool ok);
  void finish_file();  // flush + fsync + close, no rename
  void rename_into_place();
  void discard();
  std::string path_;
  std::string target_;  // the file actually replaced (symlinks resolved)
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  bool to_stdout_ = false;
  bool streamed_ = false;
  bool committed_ = false;
  int cleanup_slot_ = -1;
};

// All the outputs of one command: every path is opened (validated) by add() before anything is
// written, and commit() puts them all into place only once all of them were written; destroying
// the group without commit() leaves every target as it was.
class OutputGroup {
 public:
  OutputGroup() = default;
  OutputGroup(const OutputGroup&) = delete;
  OutputGroup& operator=(const OutputGroup&) = delete;
  // Opens one more output (throws sbert::Error naming the path); the reference stays valid for
  // the life of the group. Two outputs to the same file are an error.
  AtomicOutput& add(const std::string& path, bool binary = false);
  // Finishes every output, then renames them all into place.
  void commit();

 private:
  std::vector<std::unique_ptr<AtomicOutput>> outputs_;
};

// Registers a path (a temporary file or directory being built) to be removed if SIGINT, SIGTERM
// or SIGHUP arrive before release(); a directory is removed only if empty. For code that makes
// its own temporaries (an SQLite database, an export folder).
class TempPathGuard {
 public:
  explicit TempPathGuard(std::string path);
  ~TempPathGuard();
  TempPathGuard(const TempPathGuard&) = delete;
  TempPathGuard& operator=(const TempPathGuard&) = delete;
  void release();

 private:
  std::string path_;
  int slot_ = -1;
};

// An output folder: created (with its missing parents) by the constructor; unless keep() is
// called, the destructor (and SIGINT/SIGTERM/SIGHUP) removes the folders it created, if empty,
// so a failed export leaves no empty folder behind. An existing folder is never removed.
class OutputDirectory {
 public:
  explicit OutputDirectory(const std::string& path);
  ~OutputDirectory();
  OutputDirectory(const OutputDirectory&) = delete;
  OutputDirectory& operator=(const OutputDirectory&) = delete;
  void keep();

 private:
  std::vector<std::string> created_;  // innermost first
  std::vector<std::unique_ptr<TempPathGuard>> guards_;
  bool keep_ = false;
};

}  // namespace sbert
