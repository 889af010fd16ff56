// State file framing, sparse memory file and the temp-then-rename snapshot directory write.
#include "vmm/snapshot/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "vmm/snapshot/byte_io.h"
#include "vmm/snapshot/crc32.h"

namespace ember::vmm {
namespace {

constexpr size_t kPage = 4096;

bool is_zero_page(const uint8_t* p) {
  uint64_t acc = 0;
  for (size_t i = 0; i < kPage; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  return acc == 0;
}

Status write_all_at(int fd, const uint8_t* data, size_t len, uint64_t offset) {
  while (len > 0) {
    const ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("write snapshot file", "at offset " + std::to_string(offset));
    }
    data += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

uint64_t read_le(std::span<const uint8_t> b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{b[at + static_cast<size_t>(i)]} << (8 * i);
  return v;
}

Error refuse(const std::string& why) { return make_error("load snapshot state", why); }

Result<UniqueFd> create_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return errno_error("create snapshot file", path);
  return fd;
}

Status sync_and_close(UniqueFd fd, const std::string& path) {
  if (::fsync(fd.get()) != 0) return errno_error("fsync", path);
  if (::close(fd.release()) != 0) return errno_error("close", path);
  return {};
}

Status write_files(const std::string& state_tmp, const std::string& memory_tmp,
                   std::span<const uint8_t> framed_state, const GuestMemory& memory) {
  EMBER_TRY(UniqueFd mem_fd, create_file(memory_tmp));
  EMBER_CHECK(write_memory_file(mem_fd.get(), memory));
  EMBER_CHECK(sync_and_close(std::move(mem_fd), memory_tmp));
  EMBER_TRY(UniqueFd state_fd, create_file(state_tmp));
  EMBER_CHECK(write_all_at(state_fd.get(), framed_state.data(), framed_state.size(), 0));
  return sync_and_close(std::move(state_fd), state_tmp);
}

}  // namespace

std::vector<uint8_t> frame_state(uint32_t version, std::span<const uint8_t> payload) {
  ByteWriter w;
  for (char c : kStateMagic) w.u8(static_cast<uint8_t>(c));
  w.u32(version);
  w.u64(payload.size());
  std::vector<uint8_t> out = w.take();
  out.insert(out.end(), payload.begin(), payload.end());
  const uint32_t crc = crc32(payload);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(crc >> (8 * i)));
  return out;
}

Result<std::vector<uint8_t>> unframe_state(std::span<const uint8_t> file,
                                           uint32_t expected_version) {
  if (file.size() < sizeof(kStateMagic) ||
      std::memcmp(file.data(), kStateMagic, sizeof(kStateMagic)) != 0) {
    return refuse("not an Ember snapshot state file (magic EMBRSNAP missing)");
  }
  if (file.size() < kStateHeaderSize) return refuse("state file truncated inside its header");
  const auto version = static_cast<uint32_t>(read_le(file, 8, 4));
  if (version != expected_version) {
    return refuse("snapshot format version " + std::to_string(version) +
                  ", this ember-vmm reads version " + std::to_string(expected_version) +
                  "; take the snapshot again with this ember-vmm");
  }
  const uint64_t length = read_le(file, 12, 8);
  const uint64_t available = file.size() - kStateHeaderSize;
  if (length > kMaxStatePayload || length + kStateTrailerSize > available) {
    return refuse("state file truncated: payload of " + std::to_string(length) + " bytes, " +
                  std::to_string(available) + " bytes follow the header");
  }
  if (length + kStateTrailerSize != available) {
    return refuse("state file has " + std::to_string(available - length - kStateTrailerSize) +
                  " trailing bytes after its checksum");
  }
  auto payload = file.subspan(kStateHeaderSize, length);
  const auto stored = static_cast<uint32_t>(read_le(file, kStateHeaderSize + length, 4));
  if (crc32(payload) != stored) {
    return refuse("state file checksum mismatch: the file is corrupt");
  }
  return std::vector<uint8_t>(payload.begin(), payload.end());
}

Status write_memory_file(int fd, const GuestMemory& memory) {
  for (const MemoryRegion& r : memory.regions()) {
    uint64_t off = 0;
    while (off < r.size) {
      // Skip a run of zero pages (a hole), then write the run of non-zero pages after it.
      while (off < r.size && is_zero_page(r.host + off)) off += kPage;
      const uint64_t start = off;
      while (off < r.size && !is_zero_page(r.host + off)) off += kPage;
      if (off > start) {
        EMBER_CHECK(write_all_at(fd, r.host + start, off - start, r.file_offset + start));
      }
    }
  }
  if (::ftruncate(fd, static_cast<off_t>(memory.size())) != 0) {
    return errno_error("ftruncate memory file", std::to_string(memory.size()) + " bytes");
  }
  return {};
}

Status write_snapshot_dir(const std::string& dir, std::span<const uint8_t> framed_state,
                          const GuestMemory& memory) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error("create snapshot directory", dir + ": " + ec.message());
  const std::string state_path = dir + "/" + kStateFileName;
  const std::string memory_path = dir + "/" + kMemoryFileName;
  const std::string suffix = ".tmp-" + std::to_string(::getpid());
  const std::string state_tmp = state_path + suffix, memory_tmp = memory_path + suffix;
  Status s = write_files(state_tmp, memory_tmp, framed_state, memory);
  // state.bin goes first and comes back last: it is what makes the directory a snapshot.
  if (s.ok() && ::unlink(state_path.c_str()) != 0 && errno != ENOENT) {
    s = errno_error("remove old state file", state_path);
  }
  if (s.ok() && ::rename(memory_tmp.c_str(), memory_path.c_str()) != 0) {
    s = errno_error("rename", memory_tmp + " to " + memory_path);
  }
  if (s.ok() && ::rename(state_tmp.c_str(), state_path.c_str()) != 0) {
    s = errno_error("rename", state_tmp + " to " + state_path);
  }
  if (!s.ok()) {
    ::unlink(state_tmp.c_str());
    ::unlink(memory_tmp.c_str());
    return s;
  }
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) ::fsync(dir_fd.get());  // best effort: the renames reach the disk
  return {};
}

Result<std::vector<uint8_t>> read_state_file(const std::string& dir, uint32_t expected_version) {
  const std::string path = dir + "/" + kStateFileName;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open snapshot state", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("stat", path);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > kMaxStatePayload + kStateHeaderSize + kStateTrailerSize) {
    return refuse(path + " is too large to be a state file");
  }
  std::vector<uint8_t> bytes(size);
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(fd.get(), bytes.data() + got, bytes.size() - got,
                              static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("read", path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  auto payload = unframe_state(bytes, expected_version);
  if (!payload.ok()) {
    Error e = payload.error();
    e.context = path + ": " + e.context;
    return e;
  }
  return payload;
}

Result<UniqueFd> open_memory_file(const std::string& dir, uint64_t min_size) {
  const std::string path = dir + "/" + kMemoryFileName;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open snapshot memory", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("stat", path);
  if (static_cast<uint64_t>(st.st_size) < min_size) {
    return refuse(path + " holds " + std::to_string(st.st_size) + " bytes, the guest needs " +
                  std::to_string(min_size) + " (truncated memory file)");
  }
  return fd;
}

}  // namespace ember::vmm
