// ctest "onnx_checker_accepts_written_models": reads every ONNX conformance model and the MNIST
// models, writes each with bitsmith's writer (the MNIST ones also with external data), then runs
// scripts/onnx_check.py (ONNX's checker) on the written files, pairing each with its original so
// that models this onnx version rejects anyway are skipped and counted.
//
// Usage: onnx_write_for_checker OUT_DIR CHECK_SCRIPT
// Exit: 0 all accepted; 1 a write failed or the checker rejected a file; 77 (ctest SKIP) when
// the shared models or python's onnx are missing.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "bitsmith/io/onnx.h"

namespace fs = std::filesystem;
using namespace bitsmith;

namespace {

constexpr int kSkip = 77;

std::vector<std::string> shared_models() {
  const std::string shared = std::string(BITSMITH_SOURCE_DIR) + "/../shared";
  std::vector<std::string> out;
  for (const char* sub : {"/onnx-node-tests/node", "/onnx-node-tests/simple"}) {
    if (!fs::is_directory(shared + sub)) continue;
    for (const auto& e : fs::directory_iterator(shared + sub))
      if (fs::exists(e.path() / "model.onnx")) out.push_back((e.path() / "model.onnx").string());
  }
  if (fs::is_directory(shared + "/data/onnx-mnist-cntk"))
    for (const auto& e : fs::directory_iterator(shared + "/data/onnx-mnist-cntk"))
      if (e.path().extension() == ".onnx") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// "node/test_abs/model.onnx" -> "test_abs.onnx"; "mnist-8.onnx" stays.
std::string output_name(const fs::path& p) {
  return p.filename() == "model.onnx" ? p.parent_path().filename().string() + ".onnx" : p.filename().string();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR CHECK_SCRIPT\n", argv[0]);
    return 2;
  }
  const fs::path out_dir = argv[1];
  const std::string script = argv[2];
  const std::vector<std::string> models = shared_models();
  if (models.empty()) {
    std::printf("no shared ONNX models found; skipping\n");
    return kSkip;
  }
  std::error_code ec;
  fs::remove_all(out_dir, ec);
  fs::create_directories(out_dir / "external");
  std::ofstream pairs(out_dir / "pairs.tsv");
  int written = 0;
  for (const std::string& path : models) {
    OnnxReadOptions ro;
    ro.verify_graph = false;  // the checker judges the model; this run checks the writer
    Expected<Model> m = read_onnx(path, ro);
    if (!m) {
      std::fprintf(stderr, "%s\n", m.status().message().c_str());
      return 1;
    }
    const fs::path out = out_dir / output_name(path);
    if (Status st = write_onnx(*m, out.string(), {}); !st) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
    pairs << path << '\t' << out.string() << '\n';
    ++written;
    if (path.find("onnx-mnist-cntk") != std::string::npos) {
      OnnxWriteOptions ext;
      ext.external_data = ExternalDataMode::kAlways;
      ext.external_min_bytes = 64;
      const fs::path ext_out = out_dir / "external" / output_name(path);
      if (Status st = write_onnx(*m, ext_out.string(), ext); !st) {
        std::fprintf(stderr, "%s\n", st.message().c_str());
        return 1;
      }
      pairs << path << '\t' << ext_out.string() << '\n';
      ++written;
    }
  }
  pairs.close();
  std::printf("wrote %d models under %s\n", written, out_dir.c_str());
  std::fflush(stdout);
  const std::string cmd = "/usr/bin/python3 '" + script + "' --pairs-file '" + (out_dir / "pairs.tsv").string() + "'";
  const int rc = std::system(cmd.c_str());
  if (!WIFEXITED(rc)) return 1;
  if (WEXITSTATUS(rc) == 3) return kSkip;  // python has no onnx
  return WEXITSTATUS(rc) == 0 ? 0 : 1;
}
