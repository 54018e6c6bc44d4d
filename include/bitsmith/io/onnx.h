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
//
// Details of the contract (implementation: src/io/onnx_reader.cpp, onnx_tensor.cpp,
// onnx_writer.cpp):
//  - Fields: every field of onnx.proto up to IR version 10. TypeProto tensor and sparse-tensor
//    types are parsed; other kinds (and tensor types carrying fields Dim/TypeInfo cannot hold)
//    are kept whole in TypeInfo::raw. FunctionProto, TrainingInfoProto and TensorAnnotation are
//    kept as bytes. TensorProto's doc_string, metadata_props and unknown fields (a Tensor has no
//    slot for them) ride along in the owner's unknown_fields as private records and are written
//    back into the same TensorProto (see src/io/onnx_internal.h). Unknown fields inside
//    StringStringEntryProto and OperatorSetIdProto are dropped (no IR slot).
//  - Payloads: raw_data, external data, or the typed fields (float_data, int32_data for
//    8/16-bit types, f16/bf16/f8 bit patterns and packed i4/u4 bytes, int64_data, double_data,
//    uint64_data for u32/u64, string_data), packed or not. Exactly one source per tensor; the
//    element count must match the dims exactly. Segmented tensors (TensorProto.segment) are
//    refused (kUnsupported), as are dtype codes ONNX defines but DType lacks (23, 24).
//  - External data: keys location/offset/length are used (checksum is not verified). The
//    location check is lexical: relative, and no ".." leaving the model's folder; a symlink
//    inside the folder may point elsewhere (as in hub caches). Each data file is mapped once.
//  - Subgraphs nest at most 64 deep (kInvalidModel beyond), bounding the reader's stack.
//  - Errors: kIoError for files that cannot be opened (the model, an external data file),
//    kInvalidModel for malformed content, kUnsupported as above; one line, "<file>: <place>:
//    <what>", e.g. "m.onnx: graph.initializer[3] 'W': raw_data has 12 bytes, expected 16 for
//    f32 [2, 2]".
//  - Writing with kNever (or kAuto that still does not fit) a model whose serialization would
//    exceed protobuf's 2 GB limit is refused with kInvalidArgument; nothing is written.
//    The data file is committed before the model file, both through AtomicFile.
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

// kAuto: external data only when the inline model would exceed 2 GB (then tensors of at least
// external_min_bytes move out); kAlways: tensors of at least external_min_bytes always move
// out; kNever: everything inline.
enum class ExternalDataMode { kAuto, kAlways, kNever };

struct OnnxWriteOptions {
  ExternalDataMode external_data = ExternalDataMode::kAuto;
  // With kAlways (and kAuto past 2 GB): tensors with at least this many bytes go to the data file.
  size_t external_min_bytes = 1024;
};

// Writes `model` to `path` atomically (the data file too).
Status write_onnx(const Model& model, const std::string& path, const OnnxWriteOptions& options = {});

// A serialized TensorProto file (the input_K.pb / output_K.pb files of ONNX's test cases).
Expected<Tensor> read_tensor_proto_file(const std::string& path);

}  // namespace bitsmith
