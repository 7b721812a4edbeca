#include "search/row_store.h"

#include <sqlite3.h>

#include <utility>

#include "sbert/error.h"

namespace sbert::search {

namespace {
constexpr const char* kSchema =
    "CREATE TABLE rows (internal_id INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
    "text TEXT NOT NULL, metadata TEXT);";
}

RowStore::~RowStore() { close(); }

RowStore::RowStore(RowStore&& other) noexcept { *this = std::move(other); }

RowStore& RowStore::operator=(RowStore&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    std::swap(db_, other.db_);
    std::swap(insert_, other.insert_);
    std::swap(find_, other.find_);
    std::swap(get_, other.get_);
    std::swap(erase_, other.erase_);
    std::swap(count_, other.count_);
  }
  return *this;
}

void RowStore::fail(const std::string& what) const {
  std::string msg = path_.string() + ": " + what;
  if (db_) msg += ": " + std::string(sqlite3_errmsg(db_));
  throw Error(msg);
}

void RowStore::finalize_all() {
  for (sqlite3_stmt** s : {&insert_, &find_, &get_, &erase_, &count_}) {
    if (*s) sqlite3_finalize(*s);
    *s = nullptr;
  }
}

void RowStore::close() {
  finalize_all();
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
}

void RowStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw Error(path_.string() + ": SQLite error: " + msg);
  }
}

sqlite3_stmt* RowStore::prepare(sqlite3_stmt*& slot, const char* sql) {
  if (!slot) {
    if (sqlite3_prepare_v2(db_, sql, -1, &slot, nullptr) != SQLITE_OK) {
      slot = nullptr;
      fail("not a valid sbert rows database");
    }
  } else {
    sqlite3_reset(slot);
    sqlite3_clear_bindings(slot);
  }
  return slot;
}

RowStore RowStore::create(const std::filesystem::path& path) {
  RowStore s;
  s.path_ = path;
  if (sqlite3_open_v2(path.c_str(), &s.db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK)
    s.fail("cannot create database");
  // The file is a private temporary until it is renamed into place, so no journal is needed:
  // a crash leaves a stray file that the next writer deletes.
  s.exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;");
  s.exec(kSchema);
  return s;
}

RowStore RowStore::open(const std::filesystem::path& path, bool read_only) {
  RowStore s;
  s.path_ = path;
  if (!std::filesystem::exists(path)) throw Error(path.string() + ": rows database is missing");
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (sqlite3_open_v2(path.c_str(), &s.db_, flags, nullptr) != SQLITE_OK)
    s.fail("cannot open rows database");
  if (!read_only) s.exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;");
  s.count();  // validates the file and the schema
  return s;
}

void RowStore::begin() { exec("BEGIN"); }
void RowStore::commit() { exec("COMMIT"); }

void RowStore::insert(int64_t internal_id, const std::string& id, const std::string& text,
                      const std::string& metadata) {
  auto* st = prepare(insert_, "INSERT INTO rows(internal_id, id, text, metadata) VALUES(?,?,?,?)");
  sqlite3_bind_int64(st, 1, internal_id);
  sqlite3_bind_text(st, 2, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (metadata.empty())
    sqlite3_bind_null(st, 4);
  else
    sqlite3_bind_text(st, 4, metadata.data(), static_cast<int>(metadata.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st) != SQLITE_DONE) fail("cannot insert row id '" + id + "'");
}

std::optional<int64_t> RowStore::find(const std::string& id) {
  auto* st = prepare(find_, "SELECT internal_id FROM rows WHERE id = ?");
  sqlite3_bind_text(st, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) return sqlite3_column_int64(st, 0);
  if (rc != SQLITE_DONE) fail("lookup failed");
  return std::nullopt;
}

static std::string column_text(sqlite3_stmt* st, int i) {
  const unsigned char* p = sqlite3_column_text(st, i);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, i)));
}

std::optional<StoredRow> RowStore::get(int64_t internal_id) {
  auto* st = prepare(get_, "SELECT id, text, metadata FROM rows WHERE internal_id = ?");
  sqlite3_bind_int64(st, 1, internal_id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    StoredRow r;
    r.internal_id = internal_id;
    r.id = column_text(st, 0);
    r.text = column_text(st, 1);
    r.metadata = column_text(st, 2);
    return r;
  }
  if (rc != SQLITE_DONE) fail("lookup failed");
  return std::nullopt;
}

void RowStore::for_each(const std::function<void(const StoredRow&)>& fn) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT internal_id, id, text, metadata FROM rows ORDER BY internal_id", -1, &st,
                         nullptr) != SQLITE_OK)
    fail("listing rows failed");
  struct Finalize {
    sqlite3_stmt* s;
    ~Finalize() { sqlite3_finalize(s); }
  } guard{st};
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    StoredRow r;
    r.internal_id = sqlite3_column_int64(st, 0);
    r.id = column_text(st, 1);
    r.text = column_text(st, 2);
    r.metadata = column_text(st, 3);
    fn(r);
  }
  if (rc != SQLITE_DONE) fail("listing rows failed");
}

void RowStore::erase(int64_t internal_id) {
  auto* st = prepare(erase_, "DELETE FROM rows WHERE internal_id = ?");
  sqlite3_bind_int64(st, 1, internal_id);
  if (sqlite3_step(st) != SQLITE_DONE) fail("delete failed");
}

size_t RowStore::count() {
  auto* st = prepare(count_, "SELECT count(*) FROM rows");
  if (sqlite3_step(st) != SQLITE_ROW) fail("not a valid sbert rows database");
  return static_cast<size_t>(sqlite3_column_int64(st, 0));
}

}  // namespace sbert::search
