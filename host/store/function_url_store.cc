// FunctionUrlStore: the function_urls table and random url ids.
#include "host/store/function_url_store.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ember::host {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS function_urls (
  function_name TEXT PRIMARY KEY NOT NULL,
  url_id TEXT NOT NULL UNIQUE,
  auth_type TEXT NOT NULL,
  cors TEXT NOT NULL,         -- the Cors object as JSON, '' when none
  invoke_mode TEXT NOT NULL,  -- '' when never given
  creation_ms INTEGER NOT NULL,
  last_modified_ms INTEGER NOT NULL
);
)sql";

constexpr char kColumns[] =
    "function_name, url_id, auth_type, cors, invoke_mode, creation_ms, last_modified_ms";

// A 32-character id collides with odds of 36^-32; a few tries are plenty.
constexpr int kIdAttempts = 4;

FunctionUrlConfig row_to_config(const Statement& row) {
  return FunctionUrlConfig{.function_name = row.text(0),
                           .url_id = row.text(1),
                           .auth_type = row.text(2),
                           .cors = row.text(3),
                           .invoke_mode = row.text(4),
                           .creation_ms = row.integer(5),
                           .last_modified_ms = row.integer(6)};
}

Error not_found(const std::string& key) { return Error{ENOENT, "find function URL", key}; }

}  // namespace

std::string random_url_id() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string id;
  while (id.size() < 32) {
    unsigned char bytes[48];
    const ssize_t n = ::getrandom(bytes, sizeof bytes, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // getrandom only fails before the pool is ready at boot, which emberd runs long after.
      std::perror("random_url_id: getrandom");
      std::abort();
    }
    for (ssize_t i = 0; i < n && id.size() < 32; ++i) {
      if (bytes[i] < 252) id += kAlphabet[bytes[i] % 36];  // 252 = 7 * 36: no bias
    }
  }
  return id;
}

Result<FunctionUrlStore> FunctionUrlStore::open(const std::string& path) {
  EMBER_TRY(Database db, Database::open(path));
  EMBER_CHECK(db.exec(kSchema));
  return FunctionUrlStore(std::move(db));
}

Result<FunctionUrlConfig> FunctionUrlStore::create(FunctionUrlConfig config) {
  std::lock_guard lock(mu_);
  for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
    config.url_id = random_url_id();
    EMBER_TRY(Statement insert, db_.prepare(std::string("INSERT OR IGNORE INTO function_urls (") +
                                            kColumns + ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    insert.bind(1, config.function_name)
        .bind(2, config.url_id)
        .bind(3, config.auth_type)
        .bind(4, config.cors)
        .bind(5, config.invoke_mode)
        .bind(6, config.creation_ms)
        .bind(7, config.last_modified_ms);
    EMBER_CHECK(insert.run());
    if (db_.changes() == 1) return config;
    // Ignored: either the function has a URL, or (almost never) the id is taken.
    EMBER_TRY(Statement exists,
              db_.prepare("SELECT 1 FROM function_urls WHERE function_name = ?1"));
    exists.bind(1, config.function_name);
    EMBER_TRY(bool has_url, exists.step());
    if (has_url) return Error{EEXIST, "create function URL", config.function_name};
  }
  return make_error("create function URL",
                    "no free url id after " + std::to_string(kIdAttempts) + " attempts");
}

Result<FunctionUrlConfig> FunctionUrlStore::select_one(const char* where, const std::string& key) {
  EMBER_TRY(Statement select, db_.prepare(std::string("SELECT ") + kColumns +
                                          " FROM function_urls WHERE " + where + " = ?1"));
  select.bind(1, key);
  EMBER_TRY(bool found, select.step());
  if (!found) return not_found(key);
  return row_to_config(select);
}

Result<FunctionUrlConfig> FunctionUrlStore::get(const std::string& function_name) {
  std::lock_guard lock(mu_);
  return select_one("function_name", function_name);
}

Result<FunctionUrlConfig> FunctionUrlStore::find_by_url_id(const std::string& url_id) {
  std::lock_guard lock(mu_);
  return select_one("url_id", url_id);
}

Status FunctionUrlStore::update(const FunctionUrlConfig& config) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement update,
            db_.prepare("UPDATE function_urls SET auth_type = ?2, cors = ?3, invoke_mode = ?4, "
                        "last_modified_ms = ?5 WHERE function_name = ?1"));
  update.bind(1, config.function_name)
      .bind(2, config.auth_type)
      .bind(3, config.cors)
      .bind(4, config.invoke_mode)
      .bind(5, config.last_modified_ms);
  EMBER_CHECK(update.run());
  if (db_.changes() == 0) return not_found(config.function_name);
  return {};
}

Status FunctionUrlStore::remove(const std::string& function_name) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement remove, db_.prepare("DELETE FROM function_urls WHERE function_name = ?1"));
  remove.bind(1, function_name);
  EMBER_CHECK(remove.run());
  if (db_.changes() == 0) return not_found(function_name);
  return {};
}

}  // namespace ember::host
