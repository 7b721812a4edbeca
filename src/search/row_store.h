// The rows of one index generation in SQLite: internal id <-> user id, text, metadata JSON.
// A generation's database is written once (by the writer that creates it) and read-only after.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace sbert::search {

struct StoredRow {
  int64_t internal_id = -1;
  std::string id;
  std::string text;
  std::string metadata;  // JSON text, empty for none
};

class RowStore {
 public:
  // Creates an empty database with the schema (the file must not exist).
  static RowStore create(const std::filesystem::path& path);
  // Opens an existing database and checks that it is one of ours.
  static RowStore open(const std::filesystem::path& path, bool read_only);

  RowStore() = default;
  ~RowStore();
  RowStore(RowStore&& other) noexcept;
  RowStore& operator=(RowStore&& other) noexcept;

  void begin();
  void commit();
  void close();
  bool is_open() const { return db_ != nullptr; }

  void insert(int64_t internal_id, const std::string& id, const std::string& text,
              const std::string& metadata);
  std::optional<int64_t> find(const std::string& id);
  std::optional<StoredRow> get(int64_t internal_id);
  void erase(int64_t internal_id);
  size_t count();
  // Every row, by internal id.
  void for_each(const std::function<void(const StoredRow&)>& fn);
  const std::filesystem::path& path() const { return path_; }

 private:
  void exec(const char* sql);
  sqlite3_stmt* prepare(sqlite3_stmt*& slot, const char* sql);
  [[noreturn]] void fail(const std::string& what) const;
  void finalize_all();

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* find_ = nullptr;
  sqlite3_stmt* get_ = nullptr;
  sqlite3_stmt* erase_ = nullptr;
  sqlite3_stmt* count_ = nullptr;
};

}  // namespace sbert::search
