#include "commands.h"

#include <spdlog/spdlog.h>

namespace bitsmith::tools {

// One line per subcommand; defined in tools/cmd_*.cpp.
#define BS_COMMANDS(X) X(inspect) X(convert) X(run) X(eval) X(bench) X(passes) X(quantize) X(compress) X(analyze)

#define BS_DECLARE(name) void register_##name(CLI::App& app, int& exit_code);
BS_COMMANDS(BS_DECLARE)
#undef BS_DECLARE

void register_commands(CLI::App& app, int& exit_code) {
#define BS_REGISTER(name) register_##name(app, exit_code);
  BS_COMMANDS(BS_REGISTER)
#undef BS_REGISTER
}

int report_error(const Status& status) {
  if (status.is_ok()) return 0;
  spdlog::error("{}", status.message());
  return status.exit_code();
}

}  // namespace bitsmith::tools
