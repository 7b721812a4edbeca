// Diagnostics from the library (which kernels, which threads...) go to one process-wide handler,
// off by default; the CLI installs one for -v. Torch-free.
#pragma once
#include <functional>
#include <string>

namespace sbert {

using LogHandler = std::function<void(const std::string& message)>;

// Replaces the handler (an empty one turns verbose logging off). Not for concurrent use with
// log_verbose(): set it once at start-up.
void set_log_handler(LogHandler handler);
bool verbose_logging();
// Calls the handler with `message` (one line, no newline) when one is set.
void log_verbose(const std::string& message);

}  // namespace sbert
