// Internal helpers shared by the hub sources: environment, names and the cache layout.
#pragma once
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include "sbert/hub.h"

namespace sbert::hub::detail {

std::string getenv_str(const char* name);
bool is_commit_hash(const std::string& s);  // 40 lowercase hex digits
bool is_sha256_hex(const std::string& s);   // 64 lowercase hex digits
// Checks a repo-relative file path (no "..", no leading "/"); throws naming `what` otherwise.
void check_relative_path(const std::string& path, const std::string& what);
// The commit a revision points at in the repo's cache folder (refs/<revision>, or the revision
// itself when it is a commit hash with a snapshot); nullopt when unknown.
std::optional<std::string> cached_commit(const std::filesystem::path& repo_dir,
                                         const std::string& revision);
// True when a snapshot has what loading needs: config + weights for each transformer folder
// (per modules.json) and no dangling links among them.
bool snapshot_complete(const std::filesystem::path& snapshot);
// Reads a small text file whole; nullopt when it cannot be read.
std::optional<std::string> read_text(const std::filesystem::path& path);
// Writes a file atomically (temp file + rename); throws on failure.
void write_text_atomic(const std::filesystem::path& path, const std::string& content);
std::string resolve_token(const ResolveOptions& options);
// The hub API's answer for a revision ({"sha": ..., "siblings": [{"rfilename": ...}]}): its
// commit and file list; nullopt when the body is not in that format (never throws).
struct RepoListing {
  std::string sha;
  std::set<std::string> files;
};
std::optional<RepoListing> parse_repo_listing(const std::string& body);
std::string resolve_endpoint(const ResolveOptions& options);

}  // namespace sbert::hub::detail
