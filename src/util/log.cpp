#include "sbert/log.h"

#include <utility>

namespace sbert {

namespace {
LogHandler& handler() {
  static LogHandler h;
  return h;
}
}  // namespace

void set_log_handler(LogHandler h) { handler() = std::move(h); }
bool verbose_logging() { return static_cast<bool>(handler()); }
void log_verbose(const std::string& message) {
  if (handler()) handler()(message);
}

}  // namespace sbert
