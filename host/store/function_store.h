// FunctionStore: the functions table in SQLite (<state>/functions.db); survives restarts.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "host/store/function_record.h"
#include "host/store/sqlite.h"

namespace ember::host {

// Thread-safe. Errors carry errno-style codes the API maps to Lambda's: EEXIST (the name is
// taken), ENOENT (no such function); any other error is the database failing.
class FunctionStore {
 public:
  // Opens or creates the database file and its schema.
  static Result<FunctionStore> open(const std::string& path);

  FunctionStore(FunctionStore&& other) noexcept : db_(std::move(other.db_)) {}
  FunctionStore(const FunctionStore&) = delete;
  FunctionStore& operator=(const FunctionStore&) = delete;

  // Adds a function; EEXIST when one with its name exists.
  Status create(const FunctionRecord& record);
  // ENOENT when there is none.
  Result<FunctionRecord> get(const std::string& name);
  // Up to `limit` functions in name order, starting after `after` (empty: from the first).
  Result<std::vector<FunctionRecord>> list(const std::string& after, size_t limit);
  // Replaces the stored function of the same name; ENOENT when there is none.
  Status update(const FunctionRecord& record);
  // Removes a function and returns what it was; ENOENT when there is none.
  Result<FunctionRecord> remove(const std::string& name);
  // The code hashes functions use, for the code store's garbage collection.
  Result<std::set<std::string>> code_in_use();

 private:
  explicit FunctionStore(Database db) : db_(std::move(db)) {}
  Result<std::vector<FunctionRecord>> query(Statement& statement);

  std::mutex mu_;
  Database db_;
};

}  // namespace ember::host
