// Running the built `bitsmith` CLI from tests: a per-test scratch folder and run(args), which
// runs the binary from the repository root and captures exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace bitsmith::test {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Fixture: dir_ is a fresh folder per test (removed afterwards), named after `prefix` and the test.
class CliFixture : public ::testing::Test {
 protected:
  explicit CliFixture(std::string prefix = "bitsmith_cli") : prefix_(std::move(prefix)) {}
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           (prefix_ + "_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string tmp(const std::string& name) const { return (dir_ / name).string(); }

  // Runs the CLI with `args` (already shell-quoted) from the repository root.
  CliResult run(const std::string& args) const {
    const std::string out = tmp("stdout"), err = tmp("stderr");
    const std::string cmd = std::string("cd '") + BITSMITH_SOURCE_DIR + "' && '" + BITSMITH_CLI_PATH + "' " + args +
                            " >'" + out + "' 2>'" + err + "'";
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
  }

  std::string prefix_;
  std::filesystem::path dir_;
};

}  // namespace bitsmith::test
