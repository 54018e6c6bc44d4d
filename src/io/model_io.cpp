#include "bitsmith/io/model_io.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "bitsmith/io/bsm.h"

namespace bitsmith {
namespace {

// Lower-case extension with the dot (".onnx"), or "" when there is none.
std::string extension_of(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

Status unknown_extension(const std::string& path) {
  const std::string ext = extension_of(path);
  return invalid_argument(path + ": unknown model file extension '" + ext + "'; expected .onnx or .bsm");
}

}  // namespace

Expected<Model> load_model(const std::string& path) {
  const std::string ext = extension_of(path);
  if (ext == ".bsm") return read_bsm(path);
  if (ext != ".onnx") return unknown_extension(path);
  return read_onnx(path);
}

Status save_model(const Model& model, const std::string& path, const SaveOptions& options) {
  const std::string ext = extension_of(path);
  if (ext == ".bsm") return write_bsm(model, path, options.bsm);
  if (ext != ".onnx") return unknown_extension(path);
  return write_onnx(model, path, options.onnx);
}

}  // namespace bitsmith
