#include "search/fs_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sbert/error.h"

namespace sbert::search {

void fsync_path(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open for fsync: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems refuse fsync on directories (EINVAL); the data files are synced anyway.
  if (rc != 0 && err != EINVAL && err != EROFS)
    throw Error(path.string() + ": fsync failed: " + std::strerror(err));
}

void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
  fsync_path(from);
  if (std::rename(from.c_str(), to.c_str()) != 0)
    throw Error(to.string() + ": cannot rename " + from.filename().string() + " into place: " +
                std::strerror(errno));
  auto parent = to.parent_path();
  fsync_path(parent.empty() ? std::filesystem::path(".") : parent);
}

void write_file_durably(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(tmp.string() + ": cannot create file: " + std::strerror(errno));
  bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw Error(tmp.string() + ": write failed (disk full?)");
  }
  rename_durably(tmp, path);
}

FileLock::FileLock(const std::filesystem::path& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path.string() + ": cannot open lock file: " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd_);
    throw Error(path.string() + ": cannot lock: " + std::strerror(err));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace sbert::search
