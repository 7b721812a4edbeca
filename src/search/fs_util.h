// Durable file operations for index generations: fsync'ed renames and a writer lock.
#pragma once
#include <filesystem>
#include <string>

namespace sbert::search {

void fsync_path(const std::filesystem::path& path);  // a file or a directory
// rename(from, to) after fsyncing `from`, then fsyncs the directory of `to`.
void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to);
// Writes `content` to `path` through a temporary file, fsync and rename.
void write_file_durably(const std::filesystem::path& path, const std::string& content);

// An exclusive flock() on a file, released on destruction (and by the kernel if we die).
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace sbert::search
