#include "sbert/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "sbert/error.h"

namespace sbert {

AtomicOutput::AtomicOutput(std::string path, bool binary) : path_(std::move(path)) {
  if (path_.empty() || path_ == "-") {
    to_stdout_ = true;
    file_ = stdout;
    return;
  }
  temp_path_ = path_ + ".tmp-XXXXXX";
  int fd = mkstemp(temp_path_.data());
  if (fd < 0) throw Error("cannot create output " + path_ + ": " + std::strerror(errno));
  fchmod(fd, 0644);
  file_ = fdopen(fd, binary ? "wb" : "w");
  if (!file_) {
    ::close(fd);
    std::remove(temp_path_.c_str());
    throw Error("cannot open output " + path_ + ": " + std::strerror(errno));
  }
}

AtomicOutput::~AtomicOutput() {
  if (to_stdout_) {
    std::fflush(stdout);
    return;
  }
  if (!committed_ && file_) {
    std::fclose(file_);
    std::remove(temp_path_.c_str());
  }
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
  errno = 0;
  check(std::fwrite(data, 1, size, file_) == size);
}

void AtomicOutput::flush() {
  errno = 0;
  check(std::fflush(file_) == 0);
}

void AtomicOutput::commit() {
  if (committed_) return;
  flush();
  committed_ = true;
  if (to_stdout_) return;
  errno = 0;
  bool ok = ::fsync(fileno(file_)) == 0;
  ok = (std::fclose(file_) == 0) && ok;
  file_ = nullptr;
  if (!ok || std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(temp_path_.c_str());
    throw Error("cannot write " + path_ + ": " + why);
  }
}

}  // namespace sbert
