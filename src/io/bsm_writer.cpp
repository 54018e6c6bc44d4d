// Model -> .bsm bytes (layout: include/bitsmith/io/bsm.h). The graph goes through the ONNX
// writer with the top-level initializers taken out; each initializer becomes a TNSR record in
// the smallest encoding (io/bsm_codec.h).
#include <zlib.h>

#include <map>

#include "bitsmith/io/atomic_file.h"
#include "bitsmith/io/bsm.h"
#include "io/bsm_codec.h"
#include "io/bsm_format.h"
#include "io/onnx_internal.h"

namespace bitsmith {
namespace {

using bsm::ByteWriter;
using bsm::Coder;

struct Section {
  uint32_t kind = 0;
  Coder coder = Coder::kNone;
  uint64_t decoded_size = 0;
  std::string stored;
};

// The smallest of coders none / huffman / deflate over `body`.
Section coded_section(uint32_t kind, std::string body) {
  Section s;
  s.kind = kind;
  s.decoded_size = body.size();
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(body.data()), body.size());
  for (Coder c : {Coder::kHuffman, Coder::kDeflate}) {
    std::string z;
    if (bsm::deflate_bytes(bytes, c, &z) && z.size() < (s.coder == Coder::kNone ? body.size() : s.stored.size())) {
      s.coder = c;
      s.stored = std::move(z);
    }
  }
  if (s.coder == Coder::kNone) s.stored = std::move(body);
  return s;
}

Status write_record(const Tensor& t, std::string_view extras, const BsmWriteOptions& options, ByteWriter& out) {
  const int code = dtype_to_onnx(t.dtype());
  if (code == 0)
    return invalid_argument("initializer '" + t.name() + "': dtype " + std::string(dtype_name(t.dtype())) +
                            " has no ONNX data type code");
  bsm::EncodedPayload enc;
  if (t.dtype() == DType::kString) {
    enc = bsm::encode_strings(t.string_data(), options.try_deflate);
  } else {
    size_t w = 0, n = 0;
    if (!bsm::word_layout(t.dtype(), t.numel(), &w, &n) || n * w != t.nbytes())
      return internal_error("initializer '" + t.name() + "': no .bsm word layout for dtype " +
                            std::string(dtype_name(t.dtype())));
    enc = bsm::encode_words(t.bytes(), n, w, options.try_deflate);
  }
  out.u32(static_cast<uint32_t>(t.name().size()));
  out.bytes(t.name());
  out.u32(static_cast<uint32_t>(code));
  out.u32(static_cast<uint32_t>(t.rank()));
  for (int64_t d : t.shape()) out.u64(static_cast<uint64_t>(d));
  out.u32(static_cast<uint32_t>(extras.size()));
  out.bytes(extras);
  out.u8(static_cast<uint8_t>(enc.encoding));
  out.u8(static_cast<uint8_t>(enc.coder));
  out.u16(0);
  out.u64(enc.decoded_size);
  out.u64(enc.stored.size());
  out.bytes(enc.stored);
  return Status::ok();
}

uint32_t crc32_of(const void* data, size_t n, uint32_t crc = 0) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

uint64_t align8(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

}  // namespace

Expected<std::string> serialize_bsm(const Model& model, const BsmWriteOptions& options) {
  using namespace bsm_format;
  // Graph: the model without its top-level initializers. Their extras records (doc_string etc.)
  // travel in the tensor records; the ONNX writer drops records of tensors that are gone.
  Model shell = model;
  shell.graph.initializers.clear();
  std::string graph_bytes = onnx_detail::serialize_model_inline(shell).to_string();

  std::string genuine;
  std::map<std::string, std::string, std::less<>> records;
  onnx_detail::split_extras_records(model.graph.unknown_fields, &genuine, &records);

  ByteWriter tensors;
  tensors.u32(static_cast<uint32_t>(model.graph.initializers.size()));
  for (const Tensor& t : model.graph.initializers) {
    auto it = records.find("initializer:" + t.name());
    const std::string_view extras = it == records.end() ? std::string_view() : std::string_view(it->second);
    BS_TRY(write_record(t, extras, options, tensors));
  }

  std::vector<Section> sections;
  sections.push_back(coded_section(kKindGraph, std::move(graph_bytes)));
  Section ts;  // the records' payloads are coded already
  ts.kind = kKindTensors;
  ts.decoded_size = tensors.size();
  ts.stored = std::move(tensors.str());
  sections.push_back(std::move(ts));

  ByteWriter out;
  out.bytes(kMagic, sizeof kMagic);
  out.u16(kMajorVersion);
  out.u16(kMinorVersion);
  out.u32(0);  // flags
  const size_t file_size_at = out.size();
  out.u64(0);  // file size, patched below
  out.u32(static_cast<uint32_t>(sections.size()));
  out.u32(0);
  uint64_t offset = align8(kHeaderBytes + kEntryBytes * sections.size());
  for (const Section& s : sections) {
    out.u32(s.kind);
    out.u8(static_cast<uint8_t>(s.coder));
    out.u8(0);
    out.u16(0);
    out.u64(offset);
    out.u64(s.stored.size());
    out.u64(s.decoded_size);
    out.u32(crc32_of(s.stored.data(), s.stored.size()));
    out.u32(0);
    offset = align8(offset + s.stored.size());
  }
  for (const Section& s : sections) {
    out.str().resize(align8(out.size()), '\0');
    out.bytes(s.stored);
  }
  const uint64_t total = out.size() + kFooterBytes;
  for (int i = 0; i < 8; ++i) out.str()[file_size_at + i] = static_cast<char>((total >> (8 * i)) & 0xff);
  out.u32(crc32_of(out.str().data(), out.size()));
  out.bytes(kEndMarker, sizeof kEndMarker);
  return std::move(out.str());
}

Status write_bsm(const Model& model, const std::string& path, const BsmWriteOptions& options) {
  Expected<std::string> bytes = serialize_bsm(model, options);
  if (!bytes) return bytes.status().with_context(path);
  return write_file_atomic(path, bytes->data(), bytes->size());
}

}  // namespace bitsmith
