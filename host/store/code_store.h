// CodeStore: deployment packages by SHA-256, <hex>.zip and the <hex>.erofs image of /var/task.
#pragma once

#include <cstdint>
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

  // Deletes a package's zip and image (missing files are fine).
  Status remove(const std::string& sha256_hex);
  // Deletes every package whose hash is not in `in_use`.
  Status collect_garbage(const std::set<std::string>& in_use);

 private:
  CodeStore(std::string dir, std::string mkfs_erofs)
      : dir_(std::move(dir)), mkfs_erofs_(std::move(mkfs_erofs)) {}
  Result<StoredCode> store(std::string_view zip);
  Status build_image(const std::string& root, const std::string& image) const;

  std::string dir_;
  std::string mkfs_erofs_;
};

}  // namespace ember::host
