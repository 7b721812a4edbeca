// Escaping text for the self-contained HTML pages sbert writes (reports, cluster plots).
#pragma once
#include <string>

namespace sbert {

// & < > " ' replaced by entities: safe in element content and in quoted attributes.
std::string html_escape(const std::string& s);

}  // namespace sbert
