// ONNX ModelProto reader and writer (protobuf wire format, parsed by hand: see io/protobuf_wire.h
// for why and for the wire-level contract).
//
// Reading: the file is memory-mapped copy-on-write; tensor payloads (raw_data, external data)
// become views into the mapping when aligned to their element size, otherwise they are copied
// and the source pages released, so reading holds at most one copy of the weights. Typed
// payload fields (float_data, int32_data, ...) are decoded into the same storage layout.
// External data: `location` is resolved relative to the model's folder; absolute paths and
// paths that escape the folder are refused. Every length and dimension is bounded by the bytes
// actually present before anything is allocated.
//
// Writing: tensor payloads are written as raw_data (strings as string_data). External data is
// written when asked, or automatically when the serialized model would pass 2 GB; it goes to
// one file "<model file name>.data" next to the model, each tensor 64-byte aligned.
// Fields not interpreted by the IR are re-emitted from their saved wire bytes.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith {

struct OnnxReadOptions {
  bool verify_graph = true;  // run ir::verify after reading
};

// Errors name the file and the place: "m.onnx: graph.node[3].attribute[0]: truncated varint".
Expected<Model> read_onnx(const std::string& path, const OnnxReadOptions& options = {});

enum class ExternalDataMode { kAuto, kAlways, kNever };

struct OnnxWriteOptions {
  ExternalDataMode external_data = ExternalDataMode::kAuto;
  // With kAlways: tensors with at least this many bytes go to the data file.
  size_t external_min_bytes = 1024;
};

// Writes `model` to `path` atomically (the data file too).
Status write_onnx(const Model& model, const std::string& path, const OnnxWriteOptions& options = {});

// A serialized TensorProto file (the input_K.pb / output_K.pb files of ONNX's test cases).
Expected<Tensor> read_tensor_proto_file(const std::string& path);

}  // namespace bitsmith
