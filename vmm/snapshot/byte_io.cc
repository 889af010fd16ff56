// ByteWriter / ByteReader: the bounds checks live here.
#include "vmm/snapshot/byte_io.h"

namespace ember::vmm {

void ByteWriter::blob(std::span<const uint8_t> data) {
  u32(static_cast<uint32_t>(data.size()));
  bytes_.insert(bytes_.end(), data.begin(), data.end());
}

Error ByteReader::fail(const char* what, const std::string& why) const {
  return make_error("read snapshot state",
                    std::string(what) + " at payload offset " + std::to_string(pos_) + ": " + why);
}

Result<std::span<const uint8_t>> ByteReader::take(const char* what, size_t n) {
  if (n > remaining()) {
    return fail(what, "needs " + std::to_string(n) + " bytes, only " +
                          std::to_string(remaining()) + " left (truncated or corrupt)");
  }
  auto out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<uint64_t> ByteReader::get_le(const char* what, int n) {
  EMBER_TRY(std::span<const uint8_t> raw, take(what, static_cast<size_t>(n)));
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{raw[static_cast<size_t>(i)]} << (8 * i);
  return v;
}

Result<uint8_t> ByteReader::u8(const char* what) {
  EMBER_TRY(uint64_t v, get_le(what, 1));
  return static_cast<uint8_t>(v);
}

Result<uint16_t> ByteReader::u16(const char* what) {
  EMBER_TRY(uint64_t v, get_le(what, 2));
  return static_cast<uint16_t>(v);
}

Result<uint32_t> ByteReader::u32(const char* what) {
  EMBER_TRY(uint64_t v, get_le(what, 4));
  return static_cast<uint32_t>(v);
}

Result<uint64_t> ByteReader::u64(const char* what) { return get_le(what, 8); }

Result<bool> ByteReader::boolean(const char* what) {
  EMBER_TRY(uint8_t v, u8(what));
  if (v > 1) return fail(what, "boolean byte is " + std::to_string(v));
  return v == 1;
}

Result<std::vector<uint8_t>> ByteReader::blob(const char* what, uint32_t max_len) {
  EMBER_TRY(uint32_t len, u32(what));
  if (len > max_len) {
    return fail(what, "length " + std::to_string(len) + " exceeds " + std::to_string(max_len));
  }
  EMBER_TRY(std::span<const uint8_t> raw, take(what, len));
  return std::vector<uint8_t>(raw.begin(), raw.end());
}

Result<std::string> ByteReader::string(const char* what, uint32_t max_len) {
  EMBER_TRY(std::vector<uint8_t> raw, blob(what, max_len));
  return std::string(raw.begin(), raw.end());
}

}  // namespace ember::vmm
