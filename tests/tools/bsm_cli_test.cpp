// The CLI with .bsm files: convert there and back, inspect (text and JSON), run, eval, bench.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "bitsmith/io/npy.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/ir/printer.h"
#include "support/cli_fixture.h"

namespace bitsmith {
namespace {

namespace fs = std::filesystem;

using test::CliResult;
using test::slurp;

class BsmCliTest : public test::CliFixture {
 protected:
  BsmCliTest() : CliFixture("bitsmith_bsm_cli") {}
};

TEST_F(BsmCliTest, ConvertThereAndBackAndUseIt) {
  const std::string bsm = tmp("m.bsm"), back = tmp("back.onnx");
  CliResult r = run("-q convert models/digits_mlp.onnx '" + bsm + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(fs::file_size(bsm), fs::file_size(std::string(BITSMITH_SOURCE_DIR) + "/models/digits_mlp.onnx"));
  r = run("-q convert '" + bsm + "' '" + back + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Expected<Model> a = read_onnx(std::string(BITSMITH_SOURCE_DIR) + "/models/digits_mlp.onnx");
  Expected<Model> b = read_onnx(back);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(print_model(*a), print_model(*b));
  ASSERT_EQ(a->graph.initializers.size(), b->graph.initializers.size());
  for (size_t i = 0; i < a->graph.initializers.size(); ++i)
    EXPECT_TRUE(a->graph.initializers[i].same_content(b->graph.initializers[i])) << a->graph.initializers[i].name();

  // inspect: the usual text plus the storage table; JSON keeps its keys and adds "bsm".
  r = run("inspect '" + bsm + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("parameters:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bsm container: version 1.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(a->graph.initializers[0].name() + ": "), std::string::npos) << r.out;
  r = run("inspect --json '" + bsm + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* key : {"params", "bytes_by_dtype", "ops", "inputs", "outputs"}) EXPECT_TRUE(j.contains(key)) << key;
  ASSERT_TRUE(j.contains("bsm"));
  EXPECT_EQ(j["bsm"]["tensors"].size(), a->graph.initializers.size());
  EXPECT_EQ(j["bsm"]["file_bytes"].get<uint64_t>(), fs::file_size(bsm));

  // run: same outputs as from the ONNX.
  r = run("-q run '" + bsm + "' --input models/digits/eval_flat.npy --output-dir '" + tmp("o1") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run("-q run models/digits_mlp.onnx --input models/digits/eval_flat.npy --output-dir '" + tmp("o2") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int outputs = 0;
  for (const auto& e : fs::directory_iterator(tmp("o1"))) {
    EXPECT_EQ(slurp(e.path()), slurp(tmp("o2") / e.path().filename())) << e.path();
    ++outputs;
  }
  EXPECT_GT(outputs, 0);

  // eval against the ONNX as reference, and bench.
  r = run("-q eval '" + bsm + "' --data models/digits/eval_flat.npy --labels models/digits/eval_labels.npy "
          "--reference models/digits_mlp.onnx --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json e = nlohmann::json::parse(r.out);
  EXPECT_DOUBLE_EQ(e["top1_agreement"].get<double>(), 1.0) << r.out;
  r = run("-q bench '" + bsm + "' --iters 2 --warmup 0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(BsmCliTest, CorruptFileExitsTwoNamingIt) {
  const std::string bsm = tmp("m.bsm");
  ASSERT_EQ(run("-q convert models/digits_mlp.onnx '" + bsm + "'").exit_code, 0);
  std::string bytes = slurp(bsm);
  bytes.resize(bytes.size() / 2);
  std::ofstream(bsm, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  const CliResult r = run("inspect '" + bsm + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(bsm), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace bitsmith
