// bitsmith: one binary, one subcommand per file under tools/ (see commands.h).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdio>
#include <iostream>

#include "bitsmith/core/progress.h"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"bitsmith: make trained neural networks smaller and faster", "bitsmith"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("bitsmith ") + BITSMITH_VERSION);
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "More log output on stderr (-vv for debug)");
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");

  auto logger = spdlog::stderr_color_mt("bitsmith");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%l]%$ %v");

  int exit_code = 0;
  bitsmith::tools::register_commands(app, exit_code);

  app.parse_complete_callback([&] {
    spdlog::set_level(quiet ? spdlog::level::err
                            : verbosity >= 2 ? spdlog::level::debug
                            : verbosity == 1 ? spdlog::level::info
                                             : spdlog::level::warn);
    bitsmith::Progress::set_enabled_globally(!quiet);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 1;  // usage errors: exit 1
  }
  return exit_code;
}
