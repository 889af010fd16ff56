// CodeStore: writing, naming, imaging and collecting deployment packages.
#include "host/store/code_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "common/unique_fd.h"
#include "host/store/encoding.h"
#include "host/store/sha256.h"
#include "host/store/zip_extract.h"
#include "host/vm_client.h"

namespace ember::host {
namespace {

namespace fs = std::filesystem;

constexpr auto kMkfsTimeout = std::chrono::minutes(5);
// Less free space than this on a failure: the failure is put down to a full file system.
constexpr uint64_t kLowSpaceBytes = 4ull << 20;

// The mount point of the file system holding path (the longest one that is its prefix).
std::string mount_point_of(const std::string& path) {
  std::error_code ec;
  const std::string real = fs::weakly_canonical(path, ec).string();
  std::ifstream mounts("/proc/self/mounts");
  std::string device, point, rest, best = "/";
  while (mounts >> device >> point && std::getline(mounts, rest)) {
    const bool under = real == point || real.starts_with(point == "/" ? point : point + "/");
    if (under && point.size() > best.size()) best = point;
  }
  return best;
}

// A failure where the file system is full (or nearly: mkfs.erofs reports no errno) says
// so, naming it and what to do; others are returned as they are.
Error with_space_hint(Error error, const std::string& dir) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return error;
  const uint64_t free_bytes = uint64_t{st.f_bavail} * st.f_frsize;
  if (error.code != ENOSPC && free_bytes >= kLowSpaceBytes) return error;
  Error full = make_error(
      "store the function's code",
      "the file system mounted at " + mount_point_of(dir) + " (holding " + dir + ") is full, " +
          std::to_string(free_bytes >> 10) + " KiB free; free space there or run emberd with " +
          "a --state-dir on a larger one. Nothing stored before is affected (" +
          error.message() + ")");
  full.code = ENOSPC;
  return full;
}

// A directory removed with everything in it when the owner goes away.
class ScratchDir {
 public:
  static Result<ScratchDir> make(const std::string& parent) {
    std::string pattern = parent + "/put-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return errno_error("create scratch dir", parent);
    return ScratchDir(pattern);
  }
  ScratchDir(ScratchDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

Status write_file(const std::string& path, std::string_view bytes) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return errno_error("create", path);
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("write", path);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd.get()) != 0) return errno_error("fsync", path);
  return {};
}

Status rename_into_place(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return errno_error("rename " + from, to);
  return {};
}

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error("remove", path);
  return {};
}

}  // namespace

// Which packages are in use, and which of those lost their record and await their last use.
struct CodeUse::Table {
  std::mutex mu;
  std::map<std::string, int> uses;  // by hash; no entry when unused
  std::set<std::string> doomed;     // removed while in use: the image goes with the last use
};

CodeUse::~CodeUse() {
  if (!table_) return;
  std::lock_guard lock(table_->mu);
  if (--table_->uses[sha256_hex_] > 0) return;
  table_->uses.erase(sha256_hex_);
  if (table_->doomed.erase(sha256_hex_) == 0) return;
  std::error_code ec;
  fs::remove(image_, ec);
  if (ec) {
    std::fprintf(stderr, "emberd: remove %s: %s\n", image_.c_str(), ec.message().c_str());
  }
}

CodeStore::CodeStore(std::string dir, std::string mkfs_erofs)
    : dir_(std::move(dir)),
      mkfs_erofs_(std::move(mkfs_erofs)),
      uses_(std::make_shared<CodeUse::Table>()) {}

Result<CodeStore> CodeStore::open(const std::string& dir, std::string mkfs_erofs) {
  std::error_code ec;
  fs::create_directories(dir + "/tmp", ec);
  if (ec) return Error{ec.value(), "create code store", dir};
  for (const auto& leftover : fs::directory_iterator(dir + "/tmp", ec)) {
    fs::remove_all(leftover.path(), ec);
    if (ec) return Error{ec.value(), "clear leftovers", leftover.path().string()};
  }
  if (ec) return Error{ec.value(), "list", dir + "/tmp"};
  return CodeStore(dir, std::move(mkfs_erofs));
}

std::string CodeStore::zip_path(const std::string& sha256_hex) const {
  return dir_ + "/" + sha256_hex + ".zip";
}

std::string CodeStore::image_path(const std::string& sha256_hex) const {
  return dir_ + "/" + sha256_hex + ".erofs";
}

bool CodeStore::contains(const std::string& sha256_hex) const {
  std::error_code ec;
  return is_sha256_hex(sha256_hex) && fs::is_regular_file(zip_path(sha256_hex), ec) &&
         fs::is_regular_file(image_path(sha256_hex), ec);
}

Result<StoredCode> CodeStore::put(std::string_view zip) {
  const std::string digest = sha256(zip);
  {
    // Stored again while its last use is pending: that use must not remove it any more (a
    // failed put leaves the image for the next start's collect_garbage()).
    std::lock_guard lock(uses_->mu);
    uses_->doomed.erase(hex_encode(digest));
  }
  auto stored = store(zip, digest);
  if (!stored.ok()) return with_space_hint(stored.error(), dir_);
  return stored;
}

Result<StoredCode> CodeStore::store(std::string_view zip, const std::string& digest) {
  StoredCode code{hex_encode(digest), base64_encode(digest), zip.size()};
  if (contains(code.sha256_hex)) return code;

  EMBER_TRY(ScratchDir scratch, ScratchDir::make(dir_ + "/tmp"));
  const std::string root = scratch.path() + "/root";
  if (::mkdir(root.c_str(), 0755) != 0) return errno_error("mkdir", root);
  EMBER_CHECK(extract_zip(zip, root));
  const std::string image = scratch.path() + "/image.erofs";
  EMBER_CHECK(build_image(root, image));
  const std::string zip_copy = scratch.path() + "/code.zip";
  EMBER_CHECK(write_file(zip_copy, zip));
  // The image first: a package counts as stored once its zip is there too.
  EMBER_CHECK(rename_into_place(image, image_path(code.sha256_hex)));
  EMBER_CHECK(rename_into_place(zip_copy, zip_path(code.sha256_hex)));
  return code;
}

Status CodeStore::build_image(const std::string& root, const std::string& image) const {
  // Root owns every file; no xattrs; modification times as unpacked.
  Status built =
      run_tool({mkfs_erofs_, "--quiet", "--all-root", "-x-1", image, root}, kMkfsTimeout);
  if (!built.ok()) return make_error("build erofs image", built.error().message());
  if (::chmod(image.c_str(), 0644) != 0) return errno_error("chmod", image);
  return {};
}

Result<std::string> CodeStore::read_zip(const std::string& sha256_hex) const {
  if (!is_sha256_hex(sha256_hex)) {
    return Error{ENOENT, "read code", "'" + sha256_hex + "' is not a SHA-256 in hex"};
  }
  const std::string path = zip_path(sha256_hex);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open", path);
  std::string bytes;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("read", path);
    if (n == 0) return bytes;
    bytes.append(buffer, static_cast<size_t>(n));
  }
}

Result<CodeUse> CodeStore::use(const std::string& sha256_hex) const {
  std::lock_guard lock(uses_->mu);
  if (!contains(sha256_hex) || uses_->doomed.contains(sha256_hex)) {
    return Error{ENOENT, "use code " + sha256_hex,
                 "the package is no longer stored: the function's code changed meanwhile"};
  }
  ++uses_->uses[sha256_hex];
  return CodeUse(uses_, sha256_hex, image_path(sha256_hex));
}

Status CodeStore::remove(const std::string& sha256_hex) {
  if (!is_sha256_hex(sha256_hex)) return make_error("remove code", "bad hash " + sha256_hex);
  std::lock_guard lock(uses_->mu);
  // The zip first: a package without its zip no longer counts as stored.
  EMBER_CHECK(remove_file(zip_path(sha256_hex)));
  if (uses_->uses.contains(sha256_hex)) {
    uses_->doomed.insert(sha256_hex);
    return {};
  }
  return remove_file(image_path(sha256_hex));
}

Status CodeStore::collect_garbage(const std::set<std::string>& in_use) {
  std::error_code ec;
  std::set<std::string> unused;
  for (const auto& file : fs::directory_iterator(dir_, ec)) {
    const fs::path& path = file.path();
    const std::string stem = path.stem().string();
    if ((path.extension() == ".zip" || path.extension() == ".erofs") && is_sha256_hex(stem) &&
        !in_use.contains(stem)) {
      unused.insert(stem);
    }
  }
  if (ec) return Error{ec.value(), "list code store", dir_};
  for (const std::string& hex : unused) EMBER_CHECK(remove(hex));
  return {};
}

}  // namespace ember::host
