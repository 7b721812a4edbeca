// Output that is never half-written: a named file is written to a temporary file beside it and
// renamed into place by commit(); destroying an uncommitted AtomicOutput removes the temporary.
// An empty path or "-" writes to stdout; a closed pipe (EPIPE) ends the program quietly.
#pragma once
#include <cstdio>
#include <string>
#include <string_view>

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
  const std::string& path() const { return path_; }

 private:
  void check(bool ok);
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  bool to_stdout_ = false;
  bool committed_ = false;
};

}  // namespace sbert
