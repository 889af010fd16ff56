// CodeStore: deployment packages by SHA-256, <hex>.zip and the <hex>.erofs image of /var/task.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ember::host {

struct StoredCode {
  std::string sha256_hex;     // names the files
  std::string sha256_base64;  // Lambda's CodeSha256
  uint64_t size = 0;          // bytes of the zip
};

// A package's image held for an invocation that may attach it to a VM: while any CodeUse
// of a package lives, CodeStore::remove() leaves its image in place, and the last CodeUse
// to go removes it. Move-only.
class CodeUse {
 public:
  CodeUse(CodeUse&& other) noexcept = default;
  CodeUse& operator=(CodeUse&&) = delete;
  CodeUse(const CodeUse&) = delete;
  ~CodeUse();

 private:
  friend class CodeStore;
  struct Table;
  CodeUse(std::shared_ptr<Table> table, std::string sha256_hex, std::string image)
      : table_(std::move(table)), sha256_hex_(std::move(sha256_hex)), image_(std::move(image)) {}
  std::shared_ptr<Table> table_;  // null once moved from
  std::string sha256_hex_;
  std::string image_;
};

// Thread-safe for distinct zips; the API serializes put() against remove() and
// collect_garbage() so a package being stored is never collected.
class CodeStore {
 public:
  // Uses dir (created if missing) and clears leftovers of interrupted puts in <dir>/tmp.
  // mkfs_erofs is the mkfs.erofs program (looked up in PATH without a '/').
  static Result<CodeStore> open(const std::string& dir, std::string mkfs_erofs = "mkfs.erofs");

  // Stores a zip that check_zip() accepted: unpacks it, builds the read-only erofs image
  // (files owned by root, modes from extract_zip()) and writes both files under temporary
  // names, renamed into place. The same zip stored again finds its files and does nothing.
  // On a full file system the error (code ENOSPC) names it and the fix, and nothing is left
  // behind.
  Result<StoredCode> put(std::string_view zip);

  std::string zip_path(const std::string& sha256_hex) const;
  std::string image_path(const std::string& sha256_hex) const;
  bool contains(const std::string& sha256_hex) const;
  Result<std::string> read_zip(const std::string& sha256_hex) const;

  // Holds the package's image for the caller (see CodeUse). ENOENT when it is not stored
  // (any more): the function's code changed since its record was read.
  Result<CodeUse> use(const std::string& sha256_hex) const;
  // Deletes a package's zip, and its image unless a CodeUse holds it (then the last
  // CodeUse deletes it). Missing files are fine.
  Status remove(const std::string& sha256_hex);
  // Deletes every package whose hash is not in `in_use`.
  Status collect_garbage(const std::set<std::string>& in_use);

 private:
  CodeStore(std::string dir, std::string mkfs_erofs);
  Result<StoredCode> store(std::string_view zip, const std::string& digest);
  Status build_image(const std::string& root, const std::string& image) const;

  std::string dir_;
  std::string mkfs_erofs_;
  std::shared_ptr<CodeUse::Table> uses_;
};

}  // namespace ember::host
