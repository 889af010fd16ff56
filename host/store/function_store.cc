// FunctionStore: schema, row mapping and the statements behind each operation.
#include "host/store/function_store.h"

#include <cerrno>
#include <nlohmann/json.hpp>

namespace ember::host {
namespace {

constexpr int kSchemaVersion = 3;  // 2: dead_letter_arn, 3: egress

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS functions (
  name TEXT PRIMARY KEY NOT NULL,
  runtime TEXT NOT NULL,
  handler TEXT NOT NULL,
  role TEXT NOT NULL,
  description TEXT NOT NULL,
  memory_mb INTEGER NOT NULL,
  timeout_s INTEGER NOT NULL,
  ephemeral_mb INTEGER NOT NULL,
  environment TEXT NOT NULL,   -- a JSON object of strings
  tracing_mode TEXT NOT NULL,
  code_sha256 TEXT NOT NULL,
  code_size INTEGER NOT NULL,
  last_modified_ms INTEGER NOT NULL,
  revision_id TEXT NOT NULL,
  dead_letter_arn TEXT NOT NULL DEFAULT '',
  egress TEXT NOT NULL DEFAULT ''  -- canonical egress policy; '' follows --egress-default
);
)sql";

// The columns in the order row_to_record() reads and bind_record() writes them.
constexpr char kColumns[] =
    "name, runtime, handler, role, description, memory_mb, timeout_s, ephemeral_mb, "
    "environment, tracing_mode, code_sha256, code_size, last_modified_ms, revision_id, dead_letter_arn, egress";

FunctionRecord row_to_record(const Statement& row) {
  FunctionRecord r;
  r.name = row.text(0);
  r.runtime = row.text(1);
  r.handler = row.text(2);
  r.role = row.text(3);
  r.description = row.text(4);
  r.memory_mb = static_cast<uint32_t>(row.integer(5));
  r.timeout_s = static_cast<uint32_t>(row.integer(6));
  r.ephemeral_mb = static_cast<uint32_t>(row.integer(7));
  // Written by this file only, so it parses; a damaged row yields no variables, not a crash.
  const auto env = nlohmann::json::parse(row.text(8), nullptr, false);
  if (env.is_object()) {
    for (const auto& [key, value] : env.items()) {
      if (value.is_string()) r.environment[key] = value.get<std::string>();
    }
  }
  r.tracing_mode = row.text(9);
  r.code_sha256_hex = row.text(10);
  r.code_size = static_cast<uint64_t>(row.integer(11));
  r.last_modified_ms = row.integer(12);
  r.revision_id = row.text(13);
  r.dead_letter_arn = row.text(14);
  r.egress = row.text(15);
  return r;
}

// Binds the record's columns to parameters 1..16 in kColumns order.
void bind_record(Statement& statement, const FunctionRecord& r) {
  statement.bind(1, r.name)
      .bind(2, r.runtime)
      .bind(3, r.handler)
      .bind(4, r.role)
      .bind(5, r.description)
      .bind(6, int64_t{r.memory_mb})
      .bind(7, int64_t{r.timeout_s})
      .bind(8, int64_t{r.ephemeral_mb})
      .bind(9, nlohmann::json(r.environment).dump())
      .bind(10, r.tracing_mode)
      .bind(11, r.code_sha256_hex)
      .bind(12, static_cast<int64_t>(r.code_size))
      .bind(13, r.last_modified_ms)
      .bind(14, r.revision_id)
      .bind(15, r.dead_letter_arn)
      .bind(16, r.egress);
}

Error not_found(const std::string& name) { return Error{ENOENT, "find function", name}; }

}  // namespace

Result<FunctionStore> FunctionStore::open(const std::string& path) {
  EMBER_TRY(Database db, Database::open(path));
  EMBER_TRY(Statement version, db.prepare("PRAGMA user_version"));
  EMBER_TRY(bool has_row, version.step());
  const int64_t found = has_row ? version.integer(0) : 0;
  if (found > kSchemaVersion) {
    return make_error("open function store", path + " has schema version " + std::to_string(found) +
                                                 ", newer than this " + "emberd's " +
                                                 std::to_string(kSchemaVersion));
  }
  EMBER_CHECK(db.exec(kSchema));
  if (found == 1) {
    EMBER_CHECK(
        db.exec("ALTER TABLE functions ADD COLUMN dead_letter_arn TEXT NOT NULL DEFAULT ''"));
  }
  if (found >= 1 && found < 3) {
    EMBER_CHECK(db.exec("ALTER TABLE functions ADD COLUMN egress TEXT NOT NULL DEFAULT ''"));
  }
  EMBER_CHECK(db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)));
  return FunctionStore(std::move(db));
}

Status FunctionStore::create(const FunctionRecord& record) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement insert,
            db_.prepare(std::string("INSERT OR IGNORE INTO functions (") + kColumns +
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"));
  bind_record(insert, record);
  EMBER_CHECK(insert.run());
  if (db_.changes() == 0) return Error{EEXIST, "create function", record.name};
  return {};
}

Result<std::vector<FunctionRecord>> FunctionStore::query(Statement& statement) {
  std::vector<FunctionRecord> records;
  while (true) {
    EMBER_TRY(bool row, statement.step());
    if (!row) return records;
    records.push_back(row_to_record(statement));
  }
}

Result<FunctionRecord> FunctionStore::get(const std::string& name) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement select,
            db_.prepare(std::string("SELECT ") + kColumns + " FROM functions WHERE name = ?1"));
  select.bind(1, name);
  EMBER_TRY(auto records, query(select));
  if (records.empty()) return not_found(name);
  return std::move(records.front());
}

Result<std::vector<FunctionRecord>> FunctionStore::list(const std::string& after, size_t limit) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement select,
            db_.prepare(std::string("SELECT ") + kColumns +
                        " FROM functions WHERE name > ?1 ORDER BY name LIMIT ?2"));
  select.bind(1, after).bind(2, static_cast<int64_t>(limit));
  return query(select);
}

Status FunctionStore::update(const FunctionRecord& record) {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement replace,
            db_.prepare("UPDATE functions SET runtime = ?2, handler = ?3, role = ?4, "
                        "description = ?5, memory_mb = ?6, timeout_s = ?7, ephemeral_mb = ?8, "
                        "environment = ?9, tracing_mode = ?10, code_sha256 = ?11, "
                        "code_size = ?12, last_modified_ms = ?13, revision_id = ?14, "
                        "dead_letter_arn = ?15, egress = ?16 "
                        "WHERE name = ?1"));
  bind_record(replace, record);
  EMBER_CHECK(replace.run());
  if (db_.changes() == 0) return not_found(record.name);
  return {};
}

Result<FunctionRecord> FunctionStore::remove(const std::string& name) {
  std::lock_guard lock(mu_);
  EMBER_TRY(
      Statement remove,
      db_.prepare(std::string("DELETE FROM functions WHERE name = ?1 RETURNING ") + kColumns));
  remove.bind(1, name);
  EMBER_TRY(auto records, query(remove));
  if (records.empty()) return not_found(name);
  return std::move(records.front());
}

Result<std::set<std::string>> FunctionStore::code_in_use() {
  std::lock_guard lock(mu_);
  EMBER_TRY(Statement select, db_.prepare("SELECT DISTINCT code_sha256 FROM functions"));
  std::set<std::string> hashes;
  while (true) {
    EMBER_TRY(bool row, select.step());
    if (!row) return hashes;
    hashes.insert(select.text(0));
  }
}

}  // namespace ember::host
