// TensorProto and SparseTensorProto: decoding every payload encoding into Tensor storage
// (views into the mapped file where aligned), external data, and the writer side.
#include <cstring>
#include <limits>

#include "io/onnx_internal.h"

namespace bitsmith::onnx_detail {
namespace {

using wire::Field;
using wire::WireType;

// Which typed *_data field carries a dtype, how many bytes each decoded value takes in
// storage, and how many values numel elements need.
struct TypedRule {
  uint32_t field = 0;  // 0: no typed field (string handled apart)
  int width = 0;       // bytes per value in storage
  bool two_per_value = false;   // i4/u4: one int32_data value holds a packed byte (2 elements)
  bool two_values_per_elem = false;  // complex: real and imaginary values
};

TypedRule typed_rule(DType t) {
  using namespace tensor_f;
  switch (t) {
    case DType::kF32: return {kFloatData, 4};
    case DType::kC64: return {kFloatData, 4, false, true};
    case DType::kF64: return {kDoubleData, 8};
    case DType::kC128: return {kDoubleData, 8, false, true};
    case DType::kI64: return {kInt64Data, 8};
    case DType::kU32: return {kUint64Data, 4};
    case DType::kU64: return {kUint64Data, 8};
    case DType::kI32: return {kInt32Data, 4};
    case DType::kI16: case DType::kU16: case DType::kF16: case DType::kBF16:
      return {kInt32Data, 2};
    case DType::kI8: case DType::kU8: case DType::kBool: case DType::kF8E4M3FN:
    case DType::kF8E4M3FNUZ: case DType::kF8E5M2: case DType::kF8E5M2FNUZ:
      return {kInt32Data, 1};
    case DType::kI4: case DType::kU4: return {kInt32Data, 1, true};
    default: return {};
  }
}

const char* typed_field_name(uint32_t field) {
  switch (field) {
    case tensor_f::kFloatData: return "float_data";
    case tensor_f::kInt32Data: return "int32_data";
    case tensor_f::kInt64Data: return "int64_data";
    case tensor_f::kDoubleData: return "double_data";
    case tensor_f::kUint64Data: return "uint64_data";
    case tensor_f::kStringData: return "string_data";
    default: return "?";
  }
}

bool is_fixed_field(uint32_t field) {
  return field == tensor_f::kFloatData || field == tensor_f::kDoubleData;
}
size_t fixed_size(uint32_t field) { return field == tensor_f::kDoubleData ? 8 : 4; }

// Everything the first pass over a TensorProto learns; payloads stay where they are.
struct TensorScan {
  std::vector<int64_t> dims;
  int64_t data_type = 0;
  bool has_raw = false;
  Field raw;
  std::vector<std::string_view> strings;
  uint64_t typed_count[16] = {};  // values seen per typed field number
  bool typed_present[16] = {};
  std::vector<std::pair<std::string, std::string>> external;
  int64_t data_location = 0;
};

// Counts the values of one occurrence of a typed field (packed or not).
Status count_typed(const ReadContext& ctx, const Where& w, const Field& f, TensorScan* s) {
  const char* fname = typed_field_name(f.number);
  uint64_t n = 0;
  if (f.type == WireType::kLen) {
    if (is_fixed_field(f.number)) {
      if (f.bytes.size() % fixed_size(f.number) != 0)
        return ctx.error(w, std::string("packed ") + fname + " has " + std::to_string(f.bytes.size()) +
                                " bytes, not a multiple of " + std::to_string(fixed_size(f.number)));
      n = f.bytes.size() / fixed_size(f.number);
    } else {
      Expected<size_t> c = wire::count_packed_varints(f.bytes);
      if (!c) return ctx.error(w, std::string(fname) + ": " + c.status().message());
      n = *c;
    }
  } else {
    const WireType want = f.number == tensor_f::kFloatData   ? WireType::kFixed32
                          : f.number == tensor_f::kDoubleData ? WireType::kFixed64
                                                              : WireType::kVarint;
    BS_TRY(expect_type(ctx, w, f, want, fname));
    n = 1;
  }
  s->typed_count[f.number] += n;
  s->typed_present[f.number] = true;
  return Status::ok();
}

Status read_dims(const ReadContext& ctx, const Where& w, const Field& f, std::vector<int64_t>* dims) {
  if (f.type == WireType::kVarint) {
    dims->push_back(f.as_int64());
    return Status::ok();
  }
  BS_TRY(expect_type(ctx, w, f, WireType::kLen, "dims"));
  const std::byte* p = f.bytes.data();
  const std::byte* end = p + f.bytes.size();
  while (p < end) {
    uint64_t v = 0;
    if (!wire::decode_varint(&p, end, &v)) return ctx.error(w, "packed dims: truncated varint");
    dims->push_back(static_cast<int64_t>(v));
  }
  return Status::ok();
}

Status scan_tensor(ReadContext& ctx, const Field& tf, const Where& w, TensorScan* s, std::string* name,
                   std::string* extras) {
  using namespace tensor_f;
  wire::Reader r = sub_reader(tf);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    switch (f.number) {
      case kDims: BS_TRY(read_dims(ctx, w, f, &s->dims)); break;
      case kDataType:
        BS_TRY(expect_type(ctx, w, f, WireType::kVarint, "data_type"));
        s->data_type = f.as_int32();
        break;
      case kName:
        BS_TRY(expect_type(ctx, w, f, WireType::kLen, "name"));
        name->assign(f.str());
        break;
      case kRawData:
        BS_TRY(expect_type(ctx, w, f, WireType::kLen, "raw_data"));
        s->has_raw = true;
        s->raw = f;
        break;
      case kStringData:
        BS_TRY(expect_type(ctx, w, f, WireType::kLen, "string_data"));
        s->strings.push_back(f.str());
        break;
      case kFloatData: case kInt32Data: case kInt64Data: case kDoubleData: case kUint64Data:
        BS_TRY(count_typed(ctx, w, f, s));
        break;
      case kExternalData: {
        std::pair<std::string, std::string> e;
        BS_TRY(parse_string_entry(ctx, f, w, &e));
        s->external.push_back(std::move(e));
        break;
      }
      case kDataLocation:
        BS_TRY(expect_type(ctx, w, f, WireType::kVarint, "data_location"));
        s->data_location = f.as_int32();
        break;
      case kSegment:
        return ctx.error(w, "segmented tensors (TensorProto.segment) are not supported",
                         StatusCode::kUnsupported);
      default:  // doc_string, metadata_props and fields this reader does not know
        extras->append(reinterpret_cast<const char*>(f.whole.data()), f.whole.size());
        break;
    }
  }
  return Status::ok();
}

// Decodes every occurrence of typed field `field` into `out` (values of `width` bytes).
Status decode_typed(ReadContext& ctx, const Field& tf, const Where& w, uint32_t field, int width,
                    std::byte* out) {
  wire::Reader r = sub_reader(tf);
  Field f;
  const bool fixed = is_fixed_field(field);
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    if (f.number != field) continue;
    if (f.type != WireType::kLen) {  // one unpacked value (wire type checked by count_typed)
      std::memcpy(out, &f.value, static_cast<size_t>(width));
      out += width;
    } else if (fixed) {  // packed fixed values are stored exactly as they are
      std::memcpy(out, f.bytes.data(), f.bytes.size());
      out += f.bytes.size();
    } else {
      const std::byte* p = f.bytes.data();
      const std::byte* end = p + f.bytes.size();
      uint64_t v = 0;
      while (p < end) {
        if (!wire::decode_varint(&p, end, &v))
          return ctx.error(w, std::string(typed_field_name(field)) + ": truncated varint");
        std::memcpy(out, &v, static_cast<size_t>(width));  // low `width` bytes (little-endian)
        out += width;
      }
    }
  }
  return Status::ok();
}

// Element byte size for the alignment a view needs (1 for sub-byte and 8-bit types).
size_t element_align(DType t) {
  const int bits = dtype_bits(t);
  return bits >= 8 ? static_cast<size_t>(bits / 8) : 1;
}

// A tensor over [p, p+n) of `src` (a view when aligned, else an owned copy and the source
// pages released). `src` may be null (bytes not from a mapped file): always a copy.
Tensor payload_tensor(DType t, const Shape& shape, std::string name, const std::byte* p, size_t n,
                      const std::shared_ptr<MappedFile>& src) {
  const bool in_src = src && p >= src->data() && p + n <= src->data() + src->nbytes();
  if (in_src && reinterpret_cast<uintptr_t>(p) % element_align(t) == 0)
    return Tensor::view(t, shape, src, const_cast<std::byte*>(p), std::move(name));
  Tensor out(t, shape, std::move(name));
  if (n) std::memcpy(out.mutable_bytes(), p, n);
  if (in_src) src->release_range(static_cast<size_t>(p - src->data()), n);
  return out;
}

// Bytes numel elements of `t` take; false when that does not fit in 64 bits.
bool needed_bytes(DType t, int64_t numel, uint64_t* out) {
  const unsigned __int128 bits = static_cast<unsigned __int128>(numel) * static_cast<unsigned>(dtype_bits(t));
  const unsigned __int128 bytes = (bits + 7) / 8;
  if (bytes > std::numeric_limits<uint64_t>::max()) return false;
  *out = static_cast<uint64_t>(bytes);
  return true;
}

std::string describe_type(DType t, const Shape& shape) {
  return std::string(dtype_name(t)) + " " + shape_str(shape);
}

// Parses a non-negative decimal integer; false on anything else or overflow.
bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  unsigned __int128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > std::numeric_limits<uint64_t>::max()) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

// Checks `location` (relative, no escape from the model folder) and maps the file once.
Expected<std::shared_ptr<MappedFile>> open_external(ReadContext& ctx, const Where& w,
                                                    const std::string& location) {
  if (location.empty()) return ctx.error(w, "external_data has no 'location'");
  if (location.front() == '/')
    return ctx.error(w, "external data location '" + location +
                            "' is an absolute path; expected a path relative to the model's folder");
  if (location.find('\0') != std::string::npos)
    return ctx.error(w, "external data location contains a NUL byte");
  int depth = 0;
  size_t start = 0;
  while (start <= location.size()) {
    size_t slash = location.find('/', start);
    if (slash == std::string::npos) slash = location.size();
    const std::string_view part(location.data() + start, slash - start);
    if (part == "..") {
      if (--depth < 0)
        return ctx.error(w, "external data location '" + location +
                                "' escapes the model's folder; expected a path inside it");
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = slash + 1;
  }
  const std::string path = ctx.model_dir.empty() ? location : ctx.model_dir + "/" + location;
  auto it = ctx.external_files.find(path);
  if (it != ctx.external_files.end()) return it->second;
  Expected<std::shared_ptr<MappedFile>> mf = MappedFile::open(path);
  if (!mf)
    return ctx.error(w, "external data file '" + path + "' (location '" + location +
                            "'): " + mf.status().message(), StatusCode::kIoError);
  ctx.external_files.emplace(path, *mf);
  return *mf;
}

Status external_tensor(ReadContext& ctx, const Where& w, const TensorScan& s, DType t,
                       const Shape& shape, uint64_t need, const std::string& name, Tensor* out) {
  std::string location;
  uint64_t offset = 0, length = need;
  bool has_length = false;
  for (const auto& [key, value] : s.external) {
    if (key == "location") {
      location = value;
    } else if (key == "offset" || key == "length") {
      uint64_t v = 0;
      if (!parse_u64(value, &v))
        return ctx.error(w, "external_data '" + key + "' is '" + value + "', expected a non-negative integer");
      (key == "offset" ? offset : length) = v;
      has_length = has_length || key == "length";
    }
    // "checksum" and other keys are not checked: the data is validated by its bounds only.
  }
  if (has_length && length != need)
    return ctx.error(w, "external data length is " + std::to_string(length) + " bytes, expected " +
                            std::to_string(need) + " for " + describe_type(t, shape));
  BS_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> mf, open_external(ctx, w, location));
  if (offset > mf->nbytes() || need > mf->nbytes() - offset)
    return ctx.error(w, "external data [" + std::to_string(offset) + ", " + std::to_string(offset) +
                            " + " + std::to_string(need) + ") lies outside '" + location + "' (" +
                            std::to_string(mf->nbytes()) + " bytes)");
  *out = payload_tensor(t, shape, name, mf->data() + offset, static_cast<size_t>(need), mf);
  return Status::ok();
}

// Data from the typed *_data fields (TensorScan says which and how many).
Status typed_tensor(ReadContext& ctx, const Field& tf, const Where& w, const TensorScan& s, DType t,
                    const Shape& shape, int64_t numel, const std::string& name, Tensor* out) {
  const TypedRule rule = typed_rule(t);
  for (uint32_t f = 0; f < 16; ++f) {
    if (s.typed_present[f] && f != rule.field)
      return ctx.error(w, std::string(typed_field_name(f)) + " is not allowed for dtype " +
                              std::string(dtype_name(t)) + "; expected " +
                              (rule.field ? typed_field_name(rule.field) : "string_data") + " or raw_data");
  }
  const uint64_t have = rule.field ? s.typed_count[rule.field] : 0;
  const auto n = static_cast<uint64_t>(numel);
  const uint64_t want = rule.two_per_value ? (n + 1) / 2 : rule.two_values_per_elem ? 2 * n : n;
  if (have != want)
    return ctx.error(w, std::string(rule.field ? typed_field_name(rule.field) : "data") + " has " +
                            std::to_string(have) + " values, expected " + std::to_string(want) +
                            " for " + describe_type(t, shape));
  Tensor result(t, shape, name);  // size bounded: `want` values are present
  if (want) BS_TRY(decode_typed(ctx, tf, w, rule.field, rule.width, result.mutable_bytes()));
  *out = std::move(result);
  return Status::ok();
}

}  // namespace

Status parse_tensor(ReadContext& ctx, const Field& tf, const Where& w, Tensor* out, std::string* extras) {
  BS_TRY(expect_type(ctx, w, tf, WireType::kLen, "TensorProto"));
  TensorScan s;
  std::string name;
  Where here = w;
  here.name = &name;
  BS_TRY(scan_tensor(ctx, tf, here, &s, &name, extras));

  const std::optional<DType> dt = dtype_from_onnx(static_cast<int>(s.data_type));
  if (!dt) {
    const bool known_to_onnx = s.data_type == 23 || s.data_type == 24;  // float4e2m1, float8e8m0
    return ctx.error(here, "data_type " + std::to_string(s.data_type) +
                               (known_to_onnx ? " is not supported by this build"
                                              : " is not a known TensorProto.DataType"),
                     known_to_onnx ? StatusCode::kUnsupported : StatusCode::kInvalidModel);
  }
  const DType t = *dt;
  Shape shape(s.dims.begin(), s.dims.end());
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] < 0)
      return ctx.error(here, "dims[" + std::to_string(i) + "] is " + std::to_string(shape[i]) +
                                 ", expected >= 0");
  const int64_t numel = shape_numel(shape);
  if (numel < 0) return ctx.error(here, "dims " + shape_str(shape) + " overflow 64-bit element count");

  const bool external = s.data_location == tensor_f::kLocationExternal;
  size_t typed_fields = 0;
  for (bool p : s.typed_present) typed_fields += p ? 1 : 0;
  const size_t sources = (s.has_raw ? 1 : 0) + typed_fields + (s.strings.empty() ? 0 : 1) + (external ? 1 : 0);
  if (sources > 1)
    return ctx.error(here, "tensor data is given in more than one way (raw_data, typed *_data fields, "
                           "external data); expected exactly one");

  if (t == DType::kString) {
    if (s.has_raw || typed_fields || external)
      return ctx.error(here, "string tensor data must be in string_data");
    if (s.strings.size() != static_cast<uint64_t>(numel))
      return ctx.error(here, "string_data has " + std::to_string(s.strings.size()) + " entries, expected " +
                                 std::to_string(numel) + " for " + describe_type(t, shape));
    std::vector<std::string> values(s.strings.begin(), s.strings.end());
    *out = Tensor::strings(shape, std::move(values), std::move(name));
    return Status::ok();
  }
  if (!s.strings.empty()) return ctx.error(here, "string_data given for dtype " + std::string(dtype_name(t)));

  uint64_t need = 0;
  if (!needed_bytes(t, numel, &need))
    return ctx.error(here, "dims " + shape_str(shape) + " need more than 2^64 bytes");
  // `here` points at `name`: helpers take it by reference so errors still show it.
  if (external) return external_tensor(ctx, here, s, t, shape, need, name, out);
  if (s.has_raw) {
    if (s.raw.bytes.size() != need)
      return ctx.error(here, "raw_data has " + std::to_string(s.raw.bytes.size()) + " bytes, expected " +
                                 std::to_string(need) + " for " + describe_type(t, shape));
    *out = payload_tensor(t, shape, std::move(name), s.raw.bytes.data(), s.raw.bytes.size(), ctx.file);
    return Status::ok();
  }
  if (typed_fields == 0 && numel > 0)
    return ctx.error(here, "tensor " + describe_type(t, shape) + " has no data (no raw_data, typed "
                           "*_data field or external data)");
  return typed_tensor(ctx, tf, here, s, t, shape, numel, name, out);
}

Status parse_sparse_tensor(ReadContext& ctx, const Field& sf, const Where& w, SparseTensor* out) {
  BS_TRY(expect_type(ctx, w, sf, WireType::kLen, "SparseTensorProto"));
  wire::Reader r = sub_reader(sf);
  Field f;
  std::string values_extras, indices_extras;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    switch (f.number) {
      case sparse_f::kValues: {
        values_extras.clear();
        BS_TRY(parse_tensor(ctx, f, Where{&w, "values"}, &out->values, &values_extras));
        break;
      }
      case sparse_f::kIndices: {
        indices_extras.clear();
        BS_TRY(parse_tensor(ctx, f, Where{&w, "indices"}, &out->indices, &indices_extras));
        break;
      }
      case sparse_f::kDims: BS_TRY(read_dims(ctx, w, f, &out->dims)); break;
      default: out->unknown_fields.append(reinterpret_cast<const char*>(f.whole.data()), f.whole.size());
    }
  }
  if (!values_extras.empty()) append_extras_record(&out->unknown_fields, "values", values_extras);
  if (!indices_extras.empty()) append_extras_record(&out->unknown_fields, "indices", indices_extras);
  return Status::ok();
}

Status parse_string_entry(const ReadContext& ctx, const Field& ef, const Where& w,
                          std::pair<std::string, std::string>* out) {
  BS_TRY(expect_type(ctx, w, ef, WireType::kLen, "StringStringEntryProto"));
  wire::Reader r = sub_reader(ef);
  Field f;
  while (!r.done()) {
    if (Status st = r.next(&f); !st) return ctx.wrap(w, st);
    if (f.number == entry_f::kKey || f.number == entry_f::kValue) {
      BS_TRY(expect_type(ctx, w, f, WireType::kLen, f.number == entry_f::kKey ? "key" : "value"));
      (f.number == entry_f::kKey ? out->first : out->second).assign(f.str());
    }
  }
  return Status::ok();
}

// ---- writer side ----

wire::Writer write_string_entry(const std::string& key, const std::string& value) {
  wire::Writer w;
  w.bytes_field(entry_f::kKey, key);
  w.bytes_field(entry_f::kValue, value);
  return w;
}

wire::Writer write_tensor(const Tensor& t, std::string_view extras, WriteContext& ctx) {
  using namespace tensor_f;
  wire::Writer w;
  for (int64_t d : t.shape()) w.int64_field(kDims, d);
  w.int64_field(kDataType, dtype_to_onnx(t.dtype()));
  if (t.dtype() == DType::kString)
    for (const std::string& s : t.string_data()) w.bytes_field(kStringData, s);
  if (!t.name().empty()) w.bytes_field(kName, t.name());
  if (t.dtype() != DType::kString && t.nbytes() > 0) {
    if (ctx.external && t.nbytes() >= ctx.external_min_bytes) {
      const uint64_t a = WriteContext::kDataAlignment;
      const uint64_t offset = (ctx.data_file_bytes + a - 1) / a * a;
      ctx.blobs.push_back({t.bytes(), t.nbytes(), offset});
      ctx.data_file_bytes = offset + t.nbytes();
      w.message_field(kExternalData, write_string_entry("location", ctx.data_location));
      w.message_field(kExternalData, write_string_entry("offset", std::to_string(offset)));
      w.message_field(kExternalData, write_string_entry("length", std::to_string(t.nbytes())));
      w.int64_field(kDataLocation, kLocationExternal);
    } else {
      w.bytes_ref_field(kRawData, t.bytes(), t.nbytes());
    }
  }
  w.raw(extras);
  return w;
}

wire::Writer write_sparse_tensor(const SparseTensor& st, WriteContext& ctx) {
  std::string genuine;
  std::map<std::string, std::string, std::less<>> records;
  split_extras_records(st.unknown_fields, &genuine, &records);
  auto extras_for = [&records](const char* key) -> std::string_view {
    auto it = records.find(key);
    return it == records.end() ? std::string_view() : std::string_view(it->second);
  };
  wire::Writer w;
  w.message_field(sparse_f::kValues, write_tensor(st.values, extras_for("values"), ctx));
  w.message_field(sparse_f::kIndices, write_tensor(st.indices, extras_for("indices"), ctx));
  for (int64_t d : st.dims) w.int64_field(sparse_f::kDims, d);
  w.raw(genuine);
  return w;
}

}  // namespace bitsmith::onnx_detail
