// Subcommand registration. Each subcommand lives in tools/cmd_<name>.cpp and exposes
// register_<name>(app, exit_code): it adds its CLI11 subcommand, parses flags into a struct,
// calls the library, prints results on stdout, logs on stderr, and sets exit_code
// (0 ok, 1 usage/options, 2 model/data/I/O, 3 gate failed).
#pragma once

#include <CLI/CLI.hpp>

#include "bitsmith/core/status.h"

namespace bitsmith::tools {

void register_commands(CLI::App& app, int& exit_code);

// Logs `status` as one line on stderr and returns its exit code.
int report_error(const Status& status);

}  // namespace bitsmith::tools
