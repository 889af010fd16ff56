// Database and Statement over the SQLite C API.
#include "host/store/sqlite.h"

#include <sqlite3.h>

namespace ember::host {
namespace {

Error sqlite_error(sqlite3* db, const std::string& op, const std::string& context) {
  std::string detail = context;
  if (db != nullptr) detail += (detail.empty() ? "" : ": ") + std::string(sqlite3_errmsg(db));
  return make_error(op, detail);
}

}  // namespace

void Statement::Finalizer::operator()(sqlite3_stmt* statement) const {
  sqlite3_finalize(statement);
}

void Database::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Statement& Statement::bind(int index, std::string_view text) {
  if (sqlite3_bind_text(statement_.get(), index, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK &&
      bind_error_.empty()) {
    bind_error_ = "parameter " + std::to_string(index) + ": " + sqlite3_errmsg(db_);
  }
  return *this;
}

Statement& Statement::bind(int index, int64_t number) {
  if (sqlite3_bind_int64(statement_.get(), index, number) != SQLITE_OK && bind_error_.empty()) {
    bind_error_ = "parameter " + std::to_string(index) + ": " + sqlite3_errmsg(db_);
  }
  return *this;
}

Result<bool> Statement::step() {
  if (!bind_error_.empty()) return make_error("sqlite bind", sql_ + ": " + bind_error_);
  const int rc = sqlite3_step(statement_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, "sqlite step", sql_);
}

Status Statement::run() {
  while (true) {
    EMBER_TRY(bool row, step());
    if (!row) return {};
  }
}

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(statement_.get(), column);
  const int size = sqlite3_column_bytes(statement_.get(), column);
  if (data == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(size));
}

int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(statement_.get(), column);
}

Result<Database> Database::open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database db(raw, path);  // owns raw even when the open failed, as SQLite requires
  if (rc != SQLITE_OK) return sqlite_error(raw, "open database", path);
  sqlite3_busy_timeout(raw, 5000);
  EMBER_CHECK(db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
  return db;
}

Status Database::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    Error error = make_error("sqlite exec",
                             path_ + ": " + sql + ": " + (message ? message : "unknown error"));
    sqlite3_free(message);
    return error;
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    return sqlite_error(db_.get(), "sqlite prepare", std::string(sql));
  }
  return Statement(db_.get(), raw, std::string(sql));
}

int64_t Database::changes() const { return sqlite3_changes64(db_.get()); }

}  // namespace ember::host
