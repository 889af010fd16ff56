// State file container (magic, version, length, payload, CRC-32) and the snapshot directory.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/memory/guest_memory.h"

namespace ember::vmm {

inline constexpr char kStateMagic[8] = {'E', 'M', 'B', 'R', 'S', 'N', 'A', 'P'};
// magic + u32 version + u64 payload length; the u32 CRC-32 of the payload follows it.
inline constexpr size_t kStateHeaderSize = 8 + 4 + 8;
inline constexpr size_t kStateTrailerSize = 4;
inline constexpr uint64_t kMaxStatePayload = uint64_t{64} << 20;
inline constexpr const char* kStateFileName = "state.bin";
inline constexpr const char* kMemoryFileName = "memory.bin";

// The bytes of a state file holding `payload`.
std::vector<uint8_t> frame_state(uint32_t version, std::span<const uint8_t> payload);
// The payload of a state file, refusing another magic, another version than
// `expected_version`, a length that does not match the file, and a bad checksum.
Result<std::vector<uint8_t>> unframe_state(std::span<const uint8_t> file,
                                           uint32_t expected_version);

// Writes a sparse copy of guest RAM to `fd`: each region at its file_offset, all-zero
// pages left as holes, the file sized to memory.size(). Read-only for the guest memory.
Status write_memory_file(int fd, const GuestMemory& memory);

// Writes state.bin (the framed payload) and memory.bin into `dir` (created if missing)
// under temporary names, fsyncs them, then renames memory.bin and state.bin into place;
// on failure the temporary files are removed and any previous state.bin is gone, so a
// directory never pairs a state.bin with a memory.bin from another snapshot.
Status write_snapshot_dir(const std::string& dir, std::span<const uint8_t> framed_state,
                          const GuestMemory& memory);

// Reads dir/state.bin and returns its payload (see unframe_state).
Result<std::vector<uint8_t>> read_state_file(const std::string& dir, uint32_t expected_version);
// Opens dir/memory.bin read-only, refusing a missing file or one shorter than min_size.
Result<UniqueFd> open_memory_file(const std::string& dir, uint64_t min_size);

}  // namespace ember::vmm
