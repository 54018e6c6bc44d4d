// Format dispatch by file extension: ".onnx" (io/onnx.h) and ".bsm" (io/bsm.h); later formats
// (.gguf, .safetensors) plug in here.
#pragma once

#include <string>

#include "bitsmith/core/status.h"
#include "bitsmith/io/bsm.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith {

struct SaveOptions {
  OnnxWriteOptions onnx;
  BsmWriteOptions bsm;
};

// Errors: kIoError for missing files, kInvalidArgument for an unknown extension,
// kInvalidModel for malformed content.
Expected<Model> load_model(const std::string& path);
Status save_model(const Model& model, const std::string& path, const SaveOptions& options = {});

}  // namespace bitsmith
