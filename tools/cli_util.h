// Helpers shared by the subcommands: parsing --input flags, loading feeds, naming output files.
#pragma once

#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/runtime/executor.h"

namespace bitsmith::tools {

// Resolves `--input NAME=FILE.npy` / `--input FILE.npy` flags against the model's runtime inputs.
// A bare FILE is allowed only when the model has exactly one input. Each file is read with
// read_array (.npy, or .npz:member). Errors name the flag and the file.
Expected<NamedTensors> load_feeds(const std::vector<std::string>& flags, const std::vector<ValueInfo>& inputs);

// A file-name-safe version of a tensor name ('/', ':' and other odd characters become '_').
std::string safe_file_name(const std::string& name);

// Loads the model at `path` and creates its executor with `threads` (0 = all cores); errors are
// prefixed with the path.
Expected<std::unique_ptr<Executor>> load_executor(const std::string& path, int threads);

// Thread count from --threads (0 = all cores).
int resolve_threads(int threads_flag);

}  // namespace bitsmith::tools
