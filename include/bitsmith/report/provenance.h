// Provenance facts recorded in reports: content hashes and the machine that produced them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bitsmith/core/status.h"

namespace bitsmith {

// SHA-256 of a file's bytes (read in 1 MiB chunks), as 64 lowercase hex digits.
// Errors (kIoError) name the file and the reason.
Expected<std::string> sha256_file(const std::string& path);

// SHA-256 of `bytes`, as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

struct MachineInfo {
  std::string cpu;               // /proc/cpuinfo "model name"; "unknown" when unavailable
  int cores = 0;                 // logical processors available (>= 1)
  std::vector<std::string> isa;  // detected extensions, e.g. {"sse4.2", "avx", "avx2", "fma"}
};

// Describes the machine this process runs on (cheap; reads /proc/cpuinfo once per call).
MachineInfo machine_info();

// {"cpu": ..., "cores": ..., "isa": [...]}, the report's provenance.machine object.
nlohmann::json to_json(const MachineInfo& info);

}  // namespace bitsmith
