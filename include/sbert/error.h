// Errors raised by libsbert. Messages are one line and name the file, line or field at fault;
// the CLI prints them as `sbert: error: <message>` and exits with code 2.
#pragma once
#include <stdexcept>
#include <string>

namespace sbert {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sbert
