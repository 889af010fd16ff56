// FunctionUrlStore: each function's URL config (Lambda's FunctionUrlConfig) in SQLite; one
// per function, since only $LATEST exists.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "common/result.h"
#include "host/store/sqlite.h"

namespace ember::host {

struct FunctionUrlConfig {
  std::string function_name;
  std::string url_id;       // 32 lower-case letters and digits, unique; set by create()
  std::string auth_type;    // "NONE"
  std::string cors;         // the Cors object as JSON, "" when the URL has none
  std::string invoke_mode;  // "" when never given (Lambda then answers BUFFERED)
  int64_t creation_ms = 0;
  int64_t last_modified_ms = 0;

  bool operator==(const FunctionUrlConfig&) const = default;
};

// Thread-safe. Errors carry EEXIST (the function has a URL already) and ENOENT (no URL);
// any other error is the database failing.
class FunctionUrlStore {
 public:
  // Opens the function_urls table in the database at path (emberd: <state>/functions.db,
  // beside the functions table, through a connection of its own), creating it if missing.
  static Result<FunctionUrlStore> open(const std::string& path);
  FunctionUrlStore(FunctionUrlStore&& other) noexcept : db_(std::move(other.db_)) {}
  FunctionUrlStore(const FunctionUrlStore&) = delete;
  FunctionUrlStore& operator=(const FunctionUrlStore&) = delete;

  // Stores the config under a new random url id and returns it as stored; EEXIST when the
  // function has one.
  Result<FunctionUrlConfig> create(FunctionUrlConfig config);
  // ENOENT when the function has none.
  Result<FunctionUrlConfig> get(const std::string& function_name);
  // The config whose url id this is; ENOENT when none.
  Result<FunctionUrlConfig> find_by_url_id(const std::string& url_id);
  // Replaces auth type, Cors, invoke mode and last-modified time (name and url id stay);
  // ENOENT when the function has none.
  Status update(const FunctionUrlConfig& config);
  // ENOENT when the function had none.
  Status remove(const std::string& function_name);

 private:
  explicit FunctionUrlStore(Database db) : db_(std::move(db)) {}
  Result<FunctionUrlConfig> select_one(const char* where, const std::string& key);

  std::mutex mu_;
  Database db_;
};

// 32 random lower-case letters and digits from getrandom(2), as Lambda's url ids look.
std::string random_url_id();

}  // namespace ember::host
