// Database and Statement: move-only owners of an SQLite connection and a prepared statement.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ember::host {

class Statement {
 public:
  // Binds parameter `index` (1-based). A failed bind is reported by the next step().
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, int64_t number);

  // Runs the statement one step: true when a row is ready to read, false when it is done.
  Result<bool> step();
  // Steps to the end, for statements that return no rows.
  Status run();

  // Columns of the current row (0-based).
  std::string text(int column) const;
  int64_t integer(int column) const;

 private:
  friend class Database;
  struct Finalizer {
    void operator()(sqlite3_stmt* statement) const;
  };
  Statement(sqlite3* db, sqlite3_stmt* statement, std::string sql)
      : db_(db), statement_(statement), sql_(std::move(sql)) {}

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> statement_;
  std::string sql_;  // for error messages
  std::string bind_error_;
};

// Not thread-safe: the owner serializes access.
class Database {
 public:
  // Opens (creating it if missing) the database file at path, with a busy timeout and
  // write-ahead logging so a crash never leaves it half-written.
  static Result<Database> open(const std::string& path);

  // Runs one or more statements without parameters.
  Status exec(const std::string& sql);
  Result<Statement> prepare(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  explicit Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
};

}  // namespace ember::host
