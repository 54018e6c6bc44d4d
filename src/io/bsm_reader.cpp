// .bsm bytes -> Model (layout: include/bitsmith/io/bsm.h). The input is untrusted: every
// length, count and offset is checked against the bytes present before it is used, decoded sizes
// against the declared element counts, and allocation is bounded by the expansion limit.
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "bitsmith/core/storage.h"
#include "bitsmith/io/bsm.h"
#include "bitsmith/ir/verifier.h"
#include "io/bsm_codec.h"
#include "io/bsm_format.h"
#include "io/onnx_internal.h"

namespace bitsmith {
namespace {

using bsm::ByteReader;
using bsm::Coder;
using bsm::Encoding;

std::string str(uint64_t v) { return std::to_string(v); }

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string kind_name(uint32_t kind) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((kind >> (8 * i)) & 0xff);
    s += (c >= 32 && c < 127) ? c : '?';
  }
  return s;
}

struct Entry {
  uint32_t kind = 0;
  Coder coder = Coder::kNone;
  uint64_t offset = 0, stored = 0, decoded = 0;
  uint32_t crc = 0;
};

class BsmParser {
 public:
  BsmParser(std::span<const std::byte> bytes, std::string display, const BsmReadOptions& options, BsmInfo* info)
      : bytes_(bytes), display_(std::move(display)), options_(options), info_(info) {}

  Expected<Model> parse();

 private:
  Status fail(const std::string& what) const { return invalid_model(display_ + ": " + what); }
  Status parse_header(uint32_t* section_count);
  Status parse_entry(ByteReader& r, uint32_t index, uint64_t body_begin, uint64_t body_end, Entry* e);
  Status decode_section(const Entry& e, std::string* out);
  Status parse_graph(const Entry& e, Model* m);
  Status parse_tensors(const Entry& e, Model* m);
  Status parse_record(ByteReader& r, uint32_t index, Model* m);

  std::span<const std::byte> bytes_;
  std::string display_;
  BsmReadOptions options_;
  BsmInfo* info_;
};

uint32_t crc32_of(std::span<const std::byte> b) {
  return static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(b.data()), b.size()));
}

Status BsmParser::parse_header(uint32_t* section_count) {
  using namespace bsm_format;
  const uint64_t size = bytes_.size();
  if (size >= sizeof kMagic && std::memcmp(bytes_.data(), kMagic, sizeof kMagic) != 0)
    return fail("not a .bsm file (the first 8 bytes are not the .bsm magic 89 42 53 4D 0D 0A 1A 0A)");
  if (size < kHeaderBytes + kFooterBytes)
    return fail("file has " + str(size) + " bytes; a .bsm file has at least " + str(kHeaderBytes + kFooterBytes) +
                " (header and footer)");
  ByteReader r(bytes_.subspan(sizeof kMagic));
  uint16_t major = 0, minor = 0;
  uint32_t flags = 0, reserved = 0;
  uint64_t declared = 0;
  (void)(r.u16(&major) && r.u16(&minor) && r.u32(&flags) && r.u64(&declared) && r.u32(section_count) &&
         r.u32(&reserved));  // size checked above
  if (info_) {
    info_->major = major;
    info_->minor = minor;
    info_->file_bytes = size;
  }
  if (major != kMajorVersion)
    return unsupported(display_ + ": .bsm format version " + str(major) + "." + str(minor) +
                       " is not supported; this build reads version " + str(kMajorVersion) + ".x");
  if (declared != size)
    return fail("the header says the file has " + str(declared) + " bytes but it has " + str(size) +
                (size < declared ? " (truncated)" : " (trailing bytes)"));
  const std::span<const std::byte> footer = bytes_.subspan(size - kFooterBytes);
  if (std::memcmp(footer.data() + 4, kEndMarker, sizeof kEndMarker) != 0)
    return fail("the footer's end marker is not \"BSM.\" (truncated or corrupt file)");
  if (options_.verify_checksums) {
    ByteReader fr(footer);
    uint32_t want = 0;
    (void)fr.u32(&want);
    const uint32_t got = crc32_of(bytes_.first(size - kFooterBytes));
    if (got != want) return fail("file checksum mismatch (CRC-32 " + str(got) + ", footer says " + str(want) + "); the file is corrupt");
  }
  if (*section_count < 1 || *section_count > kMaxSections)
    return fail("section count " + str(*section_count) + ", expected 1.." + str(kMaxSections));
  if (kHeaderBytes + kEntryBytes * uint64_t{*section_count} > size - kFooterBytes)
    return fail("section table of " + str(*section_count) + " entries runs past the end of the file");
  return Status::ok();
}

Status BsmParser::parse_entry(ByteReader& r, uint32_t index, uint64_t body_begin, uint64_t body_end, Entry* e) {
  uint8_t coder = 0, pad8 = 0;
  uint16_t pad16 = 0;
  uint32_t reserved = 0;
  (void)(r.u32(&e->kind) && r.u8(&coder) && r.u8(&pad8) && r.u16(&pad16) && r.u64(&e->offset) &&
         r.u64(&e->stored) && r.u64(&e->decoded) && r.u32(&e->crc) && r.u32(&reserved));  // bounds checked
  const std::string where = "section " + str(index) + " '" + kind_name(e->kind) + "'";
  if (!bsm::valid_coder(coder)) return fail(where + ": coder " + str(coder) + ", expected 0 (none), 1 (huffman) or 2 (deflate)");
  e->coder = static_cast<Coder>(coder);
  if (e->offset < body_begin || e->offset > body_end || e->stored > body_end - e->offset)
    return fail(where + ": bytes [" + str(e->offset) + ", +" + str(e->stored) + ") lie outside the section area [" +
                str(body_begin) + ", " + str(body_end) + ")");
  if (options_.verify_checksums) {
    const uint32_t got = crc32_of(bytes_.subspan(static_cast<size_t>(e->offset), static_cast<size_t>(e->stored)));
    if (got != e->crc) return fail(where + ": checksum mismatch (CRC-32 " + str(got) + ", table says " + str(e->crc) + ")");
  }
  return Status::ok();
}

Status BsmParser::decode_section(const Entry& e, std::string* out) {
  const auto stored = bytes_.subspan(static_cast<size_t>(e.offset), static_cast<size_t>(e.stored));
  if (Status s = bsm::decode_coder(e.coder, stored, e.decoded, out); !s)
    return fail("section '" + kind_name(e.kind) + "': " + s.message());
  return Status::ok();
}

Status BsmParser::parse_graph(const Entry& e, Model* m) {
  std::string body;
  BS_TRY(decode_section(e, &body));
  onnx_detail::ReadContext ctx;
  ctx.display = display_ + ": graph section";
  ctx.model_dir = std::filesystem::path(display_).parent_path().string();
  BS_TRY(onnx_detail::parse_model_proto(ctx, as_bytes(body), m));
  if (info_) {
    info_->graph_stored_bytes = e.stored;
    info_->graph_decoded_bytes = e.decoded;
  }
  return Status::ok();
}

Status BsmParser::parse_tensors(const Entry& e, Model* m) {
  std::string body;
  BS_TRY(decode_section(e, &body));
  ByteReader r(as_bytes(body));
  uint32_t count = 0;
  if (!r.u32(&count)) return fail("tensor section: truncated before the tensor count");
  for (uint32_t i = 0; i < count; ++i) BS_TRY(parse_record(r, i, m));
  if (r.remaining() != 0)
    return fail("tensor section: " + str(r.remaining()) + " bytes follow the last of " + str(count) + " tensors");
  return Status::ok();
}

Status BsmParser::parse_record(ByteReader& r, uint32_t index, Model* m) {
  std::string where = "tensor " + str(index);
  auto truncated = [&](const char* field) { return fail(where + ": truncated in " + field); };
  uint32_t name_len = 0;
  std::span<const std::byte> name_bytes;
  if (!r.u32(&name_len) || !r.bytes(name_len, &name_bytes)) return truncated("the name");
  std::string name(reinterpret_cast<const char*>(name_bytes.data()), name_bytes.size());
  where = "tensor '" + name + "'";

  uint32_t code = 0, rank = 0;
  if (!r.u32(&code) || !r.u32(&rank)) return truncated("data type / rank");
  const std::optional<DType> dtype = dtype_from_onnx(static_cast<int>(code));
  if (!dtype || *dtype == DType::kUndefined) return fail(where + ": unknown ONNX data type code " + str(code));
  if (rank > bsm_format::kMaxRank) return fail(where + ": rank " + str(rank) + ", at most " + str(bsm_format::kMaxRank));
  Shape shape(rank);
  unsigned __int128 numel = 1;
  for (uint32_t d = 0; d < rank; ++d) {
    uint64_t v = 0;
    if (!r.u64(&v)) return truncated("the dims");
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fail(where + ": dim " + str(d) + " is negative");
    shape[d] = static_cast<int64_t>(v);
    numel *= v;
    if (numel > static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max()))
      return fail(where + ": element count of " + shape_str(Shape(shape.begin(), shape.begin() + d + 1)) +
                  "... overflows 64 bits");
  }
  const auto count = static_cast<int64_t>(numel);

  uint32_t extras_len = 0;
  std::span<const std::byte> extras;
  if (!r.u32(&extras_len) || !r.bytes(extras_len, &extras)) return truncated("the extras");
  {
    wire::Reader wr(extras);
    wire::Field f;
    while (!wr.done())
      if (Status s = wr.next(&f); !s) return fail(where + ": extras are not protobuf fields: " + s.message());
  }
  uint8_t encoding = 0, coder = 0;
  uint16_t reserved = 0;
  uint64_t decoded = 0, stored_len = 0;
  std::span<const std::byte> stored;
  if (!r.u8(&encoding) || !r.u8(&coder) || !r.u16(&reserved) || !r.u64(&decoded) || !r.u64(&stored_len))
    return truncated("the encoding header");
  if (!r.bytes(stored_len, &stored))
    return fail(where + ": payload of " + str(stored_len) + " bytes but only " + str(r.remaining()) + " remain");
  if (!bsm::valid_coder(coder)) return fail(where + ": coder " + str(coder) + ", expected 0, 1 or 2");

  const std::string type_str = std::string(dtype_name(*dtype)) + " " + shape_str(shape);
  const bool is_string = *dtype == DType::kString;
  const uint64_t tensor_bytes = is_string ? static_cast<uint64_t>(count) : storage_nbytes(*dtype, count);
  if (!bsm::expansion_ok(tensor_bytes, stored_len))
    return fail(where + ": " + type_str + " (" + str(tensor_bytes) + " bytes) cannot come from a payload of " +
                str(stored_len) + " bytes (limit " + str(bsm::kMaxExpansion) + "x + 1 MiB)");
  if (is_string != (encoding == static_cast<uint8_t>(Encoding::kStrings)))
    return fail(where + ": encoding " + str(encoding) + " does not fit dtype " + std::string(dtype_name(*dtype)));
  if (encoding > static_cast<uint8_t>(Encoding::kPlanes))
    return fail(where + ": unknown encoding " + str(encoding) + ", expected 0..4");

  std::string payload;
  if (Status s = bsm::decode_coder(static_cast<Coder>(coder), stored, decoded, &payload); !s)
    return fail(where + ": " + s.message());
  std::string description = "strings";
  Tensor t;
  if (is_string) {
    std::vector<std::string> values;
    if (Status s = bsm::decode_strings(as_bytes(payload), static_cast<size_t>(count), &values); !s)
      return fail(where + ": " + s.message());
    t = Tensor::strings(shape, std::move(values), name);
  } else {
    size_t w = 0, n = 0;
    if (!bsm::word_layout(*dtype, count, &w, &n))
      return fail(where + ": dtype " + std::string(dtype_name(*dtype)) + " cannot be stored in a .bsm");
    // Size checks before allocating the tensor.
    if (Status s = bsm::precheck_words(static_cast<Encoding>(encoding), as_bytes(payload), n, w); !s)
      return fail(where + ": " + s.message() + " for " + type_str);
    t = Tensor(*dtype, shape, name);
    if (Status s = bsm::decode_words(static_cast<Encoding>(encoding), as_bytes(payload), n, w, t.mutable_bytes(),
                                     &description);
        !s)
      return fail(where + ": " + s.message());
  }
  if (!extras.empty())
    onnx_detail::append_extras_record(&m->graph.unknown_fields, "initializer:" + name,
                                      std::string_view(reinterpret_cast<const char*>(extras.data()), extras.size()));
  if (info_) {
    BsmTensorInfo ti;
    ti.name = name;
    ti.dtype = std::string(dtype_name(*dtype));
    ti.shape = shape;
    ti.encoding = description;
    ti.coder = std::string(bsm::coder_name(static_cast<Coder>(coder)));
    ti.tensor_bytes = tensor_bytes;
    ti.stored_bytes = stored_len;
    info_->tensors.push_back(std::move(ti));
  }
  m->graph.initializers.push_back(std::move(t));
  return Status::ok();
}

Expected<Model> BsmParser::parse() {
  using namespace bsm_format;
  uint32_t section_count = 0;
  BS_TRY(parse_header(&section_count));
  const uint64_t body_begin = kHeaderBytes + kEntryBytes * uint64_t{section_count};
  const uint64_t body_end = bytes_.size() - kFooterBytes;
  ByteReader r(bytes_.subspan(kHeaderBytes, static_cast<size_t>(body_begin - kHeaderBytes)));
  const Entry* graph = nullptr;
  const Entry* tensors = nullptr;
  std::vector<Entry> entries(section_count);
  for (uint32_t i = 0; i < section_count; ++i) {
    BS_TRY(parse_entry(r, i, body_begin, body_end, &entries[i]));
    const Entry** slot = entries[i].kind == kKindGraph ? &graph : entries[i].kind == kKindTensors ? &tensors : nullptr;
    if (!slot) continue;  // a kind from a newer minor version
    if (*slot) return fail("more than one '" + kind_name(entries[i].kind) + "' section");
    *slot = &entries[i];
  }
  if (!graph) return fail("no 'GRPH' (graph) section");
  Model m;
  BS_TRY(parse_graph(*graph, &m));
  if (tensors) BS_TRY(parse_tensors(*tensors, &m));
  if (options_.verify_graph) {
    if (Status st = verify(m); !st) return st.with_context(display_);
  }
  return m;
}

}  // namespace

Expected<Model> parse_bsm(std::span<const std::byte> bytes, const std::string& display, const BsmReadOptions& options,
                          BsmInfo* info) {
  if (info) *info = BsmInfo();
  return BsmParser(bytes, display, options, info).parse();
}

Expected<Model> read_bsm(const std::string& path, const BsmReadOptions& options, BsmInfo* info) {
  BS_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::open(path));
  return parse_bsm(std::span<const std::byte>(file->data(), file->nbytes()), path, options, info);
}

}  // namespace bitsmith
