// ByteWriter / ByteReader: little-endian binary encoding with bounds-checked reads.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/result.h"

namespace ember::vmm {

// Appends fixed-width little-endian integers, length-prefixed strings and blobs.
class ByteWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u16(uint16_t v) { put_le(v, 2); }
  void u32(uint32_t v) { put_le(v, 4); }
  void u64(uint64_t v) { put_le(v, 8); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  // u32 length, then the bytes.
  void blob(std::span<const uint8_t> data);
  void string(const std::string& s) {
    blob({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }
  // A trivially copyable struct (a KVM ABI struct) as a blob of its raw bytes.
  template <typename T>
  void pod(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    blob({reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
  }

  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  void put_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
};

// Reads what ByteWriter wrote. Every read checks the remaining length; the first failure
// names the field (`what`) and the offset, and the reader stays failed.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  Result<uint8_t> u8(const char* what);
  Result<uint16_t> u16(const char* what);
  Result<uint32_t> u32(const char* what);
  Result<uint64_t> u64(const char* what);
  Result<bool> boolean(const char* what);
  // A blob of at most max_len bytes.
  Result<std::vector<uint8_t>> blob(const char* what, uint32_t max_len);
  Result<std::string> string(const char* what, uint32_t max_len);
  // A blob that must be exactly sizeof(T) bytes.
  template <typename T>
  Result<T> pod(const char* what) {
    static_assert(std::is_trivially_copyable_v<T>);
    EMBER_TRY(uint32_t len, u32(what));
    if (len != sizeof(T)) {
      return fail(what, "size " + std::to_string(len) + ", expected " + std::to_string(sizeof(T)));
    }
    EMBER_TRY(std::span<const uint8_t> raw, take(what, len));
    T value;
    std::memcpy(&value, raw.data(), sizeof(T));
    return value;
  }

  size_t remaining() const { return data_.size() - pos_; }
  size_t offset() const { return pos_; }

 private:
  Result<std::span<const uint8_t>> take(const char* what, size_t n);
  Result<uint64_t> get_le(const char* what, int n);
  Error fail(const char* what, const std::string& why) const;

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace ember::vmm
