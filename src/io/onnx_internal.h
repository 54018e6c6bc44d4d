// Internals shared by the ONNX reader (onnx_reader.cpp, onnx_tensor.cpp) and writer
// (onnx_writer.cpp): field numbers, the read context and error placement, and the
// "tensor extras" records.
//
// Tensor extras: a Tensor has no slot for TensorProto's doc_string (12), metadata_props (16) or
// unknown fields. The reader keeps those fields' wire bytes in the unknown_fields of the
// struct that owns the tensor (Graph for initializers, Attribute for t/tensors, SparseTensor for
// values/indices), wrapped in a record under field number kExtrasRecordField:
//   record { 1: key (string), 2: the TensorProto fields' wire bytes }
// with key "initializer:<name>", "t", "tensors[<i>]", "values" or "indices". Records come after
// all genuine unknown fields. The writer removes the records and appends each one's bytes to the
// matching TensorProto; a record whose tensor is gone (renamed or removed by a pass) is dropped.
// Records never reach a file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bitsmith/core/storage.h"
#include "bitsmith/core/tensor.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/io/protobuf_wire.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith::onnx_detail {

// Field numbers from onnx.proto (IR version 10).
namespace model_f {
constexpr uint32_t kIrVersion = 1, kProducerName = 2, kProducerVersion = 3, kDomain = 4,
                   kModelVersion = 5, kDocString = 6, kGraph = 7, kOpsetImport = 8,
                   kMetadataProps = 14, kTrainingInfo = 20, kFunctions = 25;
}
namespace graph_f {
constexpr uint32_t kNode = 1, kName = 2, kInitializer = 5, kDocString = 10, kInput = 11,
                   kOutput = 12, kValueInfo = 13, kQuantizationAnnotation = 14,
                   kSparseInitializer = 15, kMetadataProps = 16;
}
namespace node_f {
constexpr uint32_t kInput = 1, kOutput = 2, kName = 3, kOpType = 4, kAttribute = 5,
                   kDocString = 6, kDomain = 7, kOverload = 8, kMetadataProps = 9;
}
namespace attr_f {
constexpr uint32_t kName = 1, kF = 2, kI = 3, kS = 4, kT = 5, kG = 6, kFloats = 7, kInts = 8,
                   kStrings = 9, kTensors = 10, kGraphs = 11, kDocString = 13, kTp = 14,
                   kTypeProtos = 15, kType = 20, kRefAttrName = 21, kSparseTensor = 22,
                   kSparseTensors = 23;
}
namespace value_info_f {
constexpr uint32_t kName = 1, kType = 2, kDocString = 3, kMetadataProps = 4;
}
namespace type_f {
constexpr uint32_t kTensorType = 1, kSequenceType = 4, kMapType = 5, kDenotation = 6,
                   kOpaqueType = 7, kSparseTensorType = 8, kOptionalType = 9;
// TypeProto.Tensor and TypeProto.SparseTensor
constexpr uint32_t kElemType = 1, kShape = 2;
// TensorShapeProto
constexpr uint32_t kDim = 1;
// TensorShapeProto.Dimension
constexpr uint32_t kDimValue = 1, kDimParam = 2, kDimDenotation = 3;
}  // namespace type_f
namespace tensor_f {
constexpr uint32_t kDims = 1, kDataType = 2, kSegment = 3, kFloatData = 4, kInt32Data = 5,
                   kStringData = 6, kInt64Data = 7, kName = 8, kRawData = 9, kDoubleData = 10,
                   kUint64Data = 11, kDocString = 12, kExternalData = 13, kDataLocation = 14,
                   kMetadataProps = 16;
constexpr int kLocationExternal = 1;
}  // namespace tensor_f
namespace sparse_f {
constexpr uint32_t kValues = 1, kIndices = 2, kDims = 3;
}
namespace entry_f {  // StringStringEntryProto, OperatorSetIdProto
constexpr uint32_t kKey = 1, kValue = 2;
constexpr uint32_t kDomain = 1, kVersion = 2;
}

constexpr uint32_t kExtrasRecordField = wire::kMaxFieldNumber;
// Subgraph nesting bound (If/Loop/Scan bodies inside bodies): a crafted file cannot exhaust
// the stack.
constexpr int kMaxGraphDepth = 64;
// protobuf refuses messages of 2 GB and more.
constexpr uint64_t kProtobufLimitBytes = 2147483647;

// Where a parse is in the model, as a chain of frames on the stack; rendered only for errors:
// "graph.node[3] 'conv1'.attribute[0] 'body'.g.initializer[1] 'W'".
struct Where {
  const Where* parent = nullptr;
  const char* field = "";
  int64_t index = -1;                  // >= 0 for an element of a repeated field
  const std::string* name = nullptr;   // filled in while parsing; may be empty
  std::string str() const;
};

// State of one read: the file, its folder and the external files opened so far.
struct ReadContext {
  std::string display;                       // path as given; prefixes every message
  std::string model_dir;                     // external data locations are relative to it
  std::shared_ptr<MappedFile> file;          // the file being parsed
  std::map<std::string, std::shared_ptr<MappedFile>> external_files;  // by resolved path

  // "<display>: <where>: <what>"
  Status error(const Where& w, const std::string& what, StatusCode code = StatusCode::kInvalidModel) const;
  // Adds "<display>: <where>: " to a wire-level error.
  Status wrap(const Where& w, const Status& s) const;
};

// File offset of a length-delimited field's payload.
inline uint64_t payload_offset(const wire::Field& f) {
  return f.offset + (f.whole.size() - f.bytes.size());
}
inline wire::Reader sub_reader(const wire::Field& f) { return wire::Reader(f.bytes, payload_offset(f)); }

// Error unless `f` has wire type `t`.
Status expect_type(const ReadContext& ctx, const Where& w, const wire::Field& f, wire::WireType t,
                   const char* field_name);

// Parses a TensorProto payload into *out (named from the proto). Fields without a slot in
// Tensor (doc_string, metadata_props, unknown) are appended to *extras as wire bytes.
Status parse_tensor(ReadContext& ctx, const wire::Field& f, const Where& w, Tensor* out,
                    std::string* extras);
Status parse_sparse_tensor(ReadContext& ctx, const wire::Field& f, const Where& w, SparseTensor* out);
// Parses a StringStringEntryProto.
Status parse_string_entry(const ReadContext& ctx, const wire::Field& f, const Where& w,
                          std::pair<std::string, std::string>* out);

// Parses a whole ModelProto held in `bytes` into *m (no verification). Tensor payloads become
// views when `bytes` lies inside ctx.file, copies otherwise (ctx.file may be null). Used by
// read_onnx and by the .bsm reader (io/bsm.h) for its graph section.
Status parse_model_proto(ReadContext& ctx, std::span<const std::byte> bytes, Model* m);

// Extras records (see the top of this file).
void append_extras_record(std::string* unknown_fields, std::string_view key, std::string_view extras);
// Splits unknown_fields into genuine unknown fields and records (key -> extras). Bytes that do
// not parse are kept as genuine.
void split_extras_records(std::string_view unknown_fields, std::string* genuine,
                          std::map<std::string, std::string, std::less<>>* records);

// Writer state: where tensor payloads go.
struct WriteContext {
  bool external = false;          // tensors >= external_min_bytes go to the data file
  size_t external_min_bytes = 0;
  std::string data_location;      // location written into external_data ("m.onnx.data")
  struct Blob {
    const std::byte* data;
    size_t nbytes;
    uint64_t offset;              // in the data file, 64-byte aligned
  };
  std::vector<Blob> blobs;
  uint64_t data_file_bytes = 0;   // end of the last blob
  static constexpr uint64_t kDataAlignment = 64;
};

// Serializes a TensorProto (payload referenced, not copied) with `extras` appended.
wire::Writer write_tensor(const Tensor& t, std::string_view extras, WriteContext& ctx);
wire::Writer write_sparse_tensor(const SparseTensor& st, WriteContext& ctx);
wire::Writer write_string_entry(const std::string& key, const std::string& value);
// The ModelProto of `model` with every tensor inline (no external data file); large payloads
// are referenced, so `model` must outlive the returned Writer.
wire::Writer serialize_model_inline(const Model& model);

}  // namespace bitsmith::onnx_detail
