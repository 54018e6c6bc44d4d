// `bitsmith passes [NAME] [--json]`: output generated from the registry; exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "bitsmith/passes/registry.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

CliResult run_cli(const std::string& args) {
  const fs::path dir = fs::temp_directory_path() / ("bitsmith_passes_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string out = (dir / "stdout").string(), err = (dir / "stderr").string();
  const std::string cmd = std::string("'") + BITSMITH_CLI_PATH + "' " + args + " >'" + out + "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  CliResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  fs::remove_all(dir);
  return r;
}

TEST(CmdPasses, ListsEveryRegisteredPass) {
  const CliResult r = run_cli("passes");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const PassInfo& p : pass_registry()) {
    EXPECT_NE(r.out.find(std::string(p.name)), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string(p.summary)), std::string::npos) << r.out;
  }
}

TEST(CmdPasses, ShowsOptionsOfOnePass) {
  for (const PassInfo& p : pass_registry()) {
    const CliResult r = run_cli("passes " + std::string(p.name));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, describe_pass(p));
    const CliResult j = run_cli("passes " + std::string(p.name) + " --json");
    ASSERT_EQ(j.exit_code, 0) << j.err;
    EXPECT_EQ(nlohmann::json::parse(j.out), pass_info_json(p));
  }
}

TEST(CmdPasses, UnknownNameExits1WithSuggestion) {
  const CliResult r = run_cli("passes fold-constans");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("unknown pass \"fold-constans\"; did you mean \"fold-constants\"?"), std::string::npos) << r.err;
}

TEST(CmdPasses, JsonListParses) {
  const CliResult r = run_cli("passes --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), pass_registry().size());
  for (size_t i = 0; i < j.size(); ++i) EXPECT_EQ(j[i], pass_info_json(pass_registry()[i]));
}

}  // namespace
}  // namespace bitsmith
