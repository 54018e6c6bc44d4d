// Constants of the .bsm layout (documented in include/bitsmith/io/bsm.h), shared by the
// writer and the reader.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bitsmith::bsm_format {

constexpr char kMagic[8] = {'\x89', 'B', 'S', 'M', '\r', '\n', '\x1a', '\n'};
constexpr char kEndMarker[4] = {'B', 'S', 'M', '.'};
constexpr uint16_t kMajorVersion = 1;
constexpr uint16_t kMinorVersion = 0;
constexpr size_t kHeaderBytes = 32;
constexpr size_t kEntryBytes = 40;
constexpr size_t kFooterBytes = 8;
constexpr uint32_t kMaxSections = 64;
constexpr uint32_t kMaxRank = 64;

constexpr uint32_t fourcc(const char (&s)[5]) {
  return static_cast<uint32_t>(static_cast<uint8_t>(s[0])) | static_cast<uint32_t>(static_cast<uint8_t>(s[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[2])) << 16 | static_cast<uint32_t>(static_cast<uint8_t>(s[3])) << 24;
}
constexpr uint32_t kKindGraph = fourcc("GRPH");
constexpr uint32_t kKindTensors = fourcc("TNSR");

}  // namespace bitsmith::bsm_format
