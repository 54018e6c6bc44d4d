// .npy reading and writing (layout: numpy/lib/format.py, "NEP 1"):
//   magic "\x93NUMPY", major, minor (1 byte each),
//   header length: u16 LE (v1.0) or u32 LE (v2.0, v3.0),
//   header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//           padded with spaces and ended by '\n' so the data starts at a multiple of 64
//           (16 in files from old numpy versions),
//   data: numel * itemsize bytes, C order.
#include <bit>
#include <cstring>
#include <limits>
#include <string_view>

#include "bitsmith/io/atomic_file.h"
#include "bitsmith/io/npy.h"

namespace bitsmith {
namespace {

static_assert(std::endian::native == std::endian::little, "npy code assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;

struct DescrRow {
  DType dtype;
  std::string_view code;  // kind and item size, without the byte-order character
  size_t itemsize;
  size_t swap_unit;       // bytes swapped together for big-endian input (complex: per component)
};

constexpr DescrRow kDescrs[] = {
    {DType::kF16, "f2", 2, 2},  {DType::kF32, "f4", 4, 4},  {DType::kF64, "f8", 8, 8},
    {DType::kI8, "i1", 1, 1},   {DType::kI16, "i2", 2, 2},  {DType::kI32, "i4", 4, 4},
    {DType::kI64, "i8", 8, 8},  {DType::kU8, "u1", 1, 1},   {DType::kU16, "u2", 2, 2},
    {DType::kU32, "u4", 4, 4},  {DType::kU64, "u8", 8, 8},  {DType::kBool, "b1", 1, 1},
    {DType::kC64, "c8", 8, 4},  {DType::kC128, "c16", 16, 8},
};

const DescrRow* find_descr_by_dtype(DType t) {
  for (const DescrRow& r : kDescrs)
    if (r.dtype == t) return &r;
  return nullptr;
}

struct Header {
  const DescrRow* descr = nullptr;
  bool big_endian = false;
  bool fortran_order = false;
  Shape shape;
  size_t data_offset = 0;
};

// A cursor over the header dict text; every parse_* returns an error naming what was expected.
class DictParser {
 public:
  explicit DictParser(std::string_view text) : s_(text) {}

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool consume(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  Expected<std::string> parse_string() {
    skip_ws();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return error("a quoted string");
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == std::string_view::npos) return error("a closing quote");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  Expected<bool> parse_bool() {
    skip_ws();
    if (s_.substr(pos_, 4) == "True") { pos_ += 4; return true; }
    if (s_.substr(pos_, 5) == "False") { pos_ += 5; return false; }
    return error("True or False");
  }
  Expected<Shape> parse_shape() {
    if (!consume('(')) return error("a shape tuple '(...)'");
    Shape shape;
    while (!consume(')')) {
      skip_ws();
      int64_t v = 0;
      size_t digits = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        const int d = s_[pos_++] - '0';
        if (v > (std::numeric_limits<int64_t>::max() - d) / 10) return error("a dimension below 2^63");
        v = v * 10 + d;
        ++digits;
      }
      if (digits == 0) return error("a non-negative integer dimension");
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long suffix
      shape.push_back(v);
      if (!consume(',') && !peek(')')) return error("',' or ')' in the shape");
    }
    return shape;
  }
  Status error(const std::string& expected) const {
    return data_error("npy header: expected " + expected + " at offset " + std::to_string(pos_) + " of " +
                      quoted_text());
  }

 private:
  std::string quoted_text() const {
    std::string t(s_.substr(0, 200));
    while (!t.empty() && (t.back() == ' ' || t.back() == '\n')) t.pop_back();
    return "\"" + t + (s_.size() > 200 ? "...\"" : "\"");
  }
  std::string_view s_;
  size_t pos_ = 0;
};

Status parse_descr(const std::string& descr, Header* h) {
  std::string_view code = descr;
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
    h->big_endian = code[0] == '>';
    code.remove_prefix(1);
  }
  for (const DescrRow& r : kDescrs)
    if (r.code == code) {
      h->descr = &r;
      if (r.itemsize == 1) h->big_endian = false;
      return Status::ok();
    }
  return unsupported("npy dtype '" + descr +
                     "' is not supported (numeric dtypes f2/f4/f8, i1..i8, u1..u8, b1, c8, c16 only)");
}

Status parse_dict(std::string_view text, Header* h) {
  DictParser p(text);
  if (!p.consume('{')) return p.error("'{'");
  bool have_descr = false, have_order = false, have_shape = false;
  while (!p.consume('}')) {
    BS_ASSIGN_OR_RETURN(std::string key, p.parse_string());
    if (!p.consume(':')) return p.error("':' after '" + key + "'");
    if (key == "descr") {
      if (p.peek('[')) return unsupported("npy: structured dtypes (a descr list) are not supported");
      const Expected<std::string> descr = p.parse_string();
      if (!descr) return descr.status();
      BS_TRY(parse_descr(*descr, h));
      have_descr = true;
    } else if (key == "fortran_order") {
      BS_ASSIGN_OR_RETURN(h->fortran_order, p.parse_bool());
      have_order = true;
    } else if (key == "shape") {
      BS_ASSIGN_OR_RETURN(h->shape, p.parse_shape());
      have_shape = true;
    } else {
      return data_error("npy header: unexpected key '" + key + "'");
    }
    if (!p.consume(',') && !p.peek('}')) return p.error("',' or '}'");
  }
  if (!have_descr || !have_order || !have_shape)
    return data_error("npy header: missing key '" +
                      std::string(!have_descr ? "descr" : !have_order ? "fortran_order" : "shape") + "'");
  return Status::ok();
}

uint32_t read_le(const std::byte* p, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint32_t>(p[i]);
  return v;
}

Expected<Header> parse_header(const std::byte* data, size_t nbytes) {
  if (nbytes < kMagicLen + 4 || std::memcmp(data, kMagic, kMagicLen) != 0)
    return data_error("not a .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<int>(data[6]);
  const int minor = static_cast<int>(data[7]);
  size_t prelude = 0;
  size_t header_len = 0;
  if (major == 1) {
    prelude = 10;
    header_len = read_le(data + 8, 2);
  } else if (major == 2 || major == 3) {
    if (nbytes < 12) return data_error("truncated .npy header");
    prelude = 12;
    header_len = read_le(data + 8, 4);
  } else {
    return unsupported("npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                       " is not supported (1.0, 2.0 and 3.0 are)");
  }
  if (header_len > nbytes - prelude)
    return data_error("npy header length " + std::to_string(header_len) + " runs past the end of the file (" +
                      std::to_string(nbytes) + " bytes)");
  Header h;
  const std::string_view text(reinterpret_cast<const char*>(data + prelude), header_len);
  BS_TRY(parse_dict(text, &h));
  if (h.fortran_order)
    return data_error("fortran_order is True; only C-order arrays are supported "
                      "(save np.ascontiguousarray(a) instead)");
  h.data_offset = prelude + header_len;
  return h;
}

void byteswap_copy(const std::byte* src, std::byte* dst, size_t nbytes, size_t unit) {
  for (size_t i = 0; i < nbytes; i += unit)
    for (size_t k = 0; k < unit; ++k) dst[i + k] = src[i + unit - 1 - k];
}

// The npy header text for `t`, padded so the data starts at a multiple of kAlign.
std::string header_bytes(const Tensor& t, const DescrRow& d) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
  shape += t.rank() == 1 ? ",)" : ")";  // Python's one-element tuple
  const char order = d.itemsize == 1 ? '|' : '<';
  std::string dict = "{'descr': '" + std::string(1, order) + std::string(d.code) +
                     "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t prelude = 10;
  if (prelude + dict.size() + 1 > 65535) prelude = 12;
  const size_t total = (prelude + dict.size() + 1 + kAlign - 1) / kAlign * kAlign;
  dict.append(total - prelude - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(prelude == 10 ? 1 : 2);
  out += '\0';
  const size_t len = dict.size();
  for (size_t i = 0; i < prelude - 8; ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + dict;
}

// "dir/x.npy" -> "x".
std::string file_stem(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
  return name;
}

}  // namespace

Expected<Tensor> parse_npy_view(const std::byte* data, size_t nbytes, const std::string& display_name,
                                const std::shared_ptr<Storage>& owner) {
  auto parsed = parse_header(data, nbytes);
  if (!parsed) return parsed.status().with_context(display_name);
  const Header& h = *parsed;
  const int64_t numel = shape_numel(h.shape);
  const size_t itemsize = h.descr->itemsize;
  const size_t present = nbytes - h.data_offset;
  if (numel < 0 || static_cast<uint64_t>(numel) > present / itemsize) {
    const std::string need = numel < 0 ? std::string("more than 2^63 elements")
                                       : std::to_string(numel) + " x " + std::to_string(itemsize) + " bytes";
    return data_error(display_name + ": truncated: shape " + shape_str(h.shape) + " of " +
                      std::string(dtype_name(h.descr->dtype)) + " needs " + need + ", the file holds " +
                      std::to_string(present) + " data bytes");
  }
  const std::byte* src = data + h.data_offset;
  const size_t payload = static_cast<size_t>(numel) * itemsize;
  const bool aligned = reinterpret_cast<uintptr_t>(src) % itemsize == 0;
  if (owner && !h.big_endian && aligned && payload > 0)
    return Tensor::view(h.descr->dtype, h.shape, owner, const_cast<std::byte*>(src));
  Tensor t(h.descr->dtype, h.shape);
  if (payload == 0) return t;
  if (h.big_endian)
    byteswap_copy(src, t.mutable_bytes(), payload, h.descr->swap_unit);
  else
    std::memcpy(t.mutable_bytes(), src, payload);
  return t;
}

std::string npy_header(const Tensor& t) {
  const DescrRow* d = find_descr_by_dtype(t.dtype());
  return d ? header_bytes(t, *d) : std::string();
}

bool npy_supports(DType dtype) { return find_descr_by_dtype(dtype) != nullptr; }

Expected<Tensor> parse_npy(const std::byte* data, size_t nbytes, const std::string& display_name) {
  return parse_npy_view(data, nbytes, display_name, nullptr);
}

std::string serialize_npy(const Tensor& tensor) {
  std::string out = npy_header(tensor);
  if (out.empty()) return out;
  out.append(reinterpret_cast<const char*>(tensor.bytes()), tensor.nbytes());
  return out;
}

Expected<Tensor> read_npy(const std::string& path) {
  BS_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::open(path));
  BS_ASSIGN_OR_RETURN(Tensor t, parse_npy_view(file->data(), file->nbytes(), path, file));
  t.set_name(file_stem(path));
  return t;
}

Status write_npy(const Tensor& tensor, const std::string& path) {
  if (!npy_supports(tensor.dtype()))
    return unsupported(path + ": dtype " + std::string(dtype_name(tensor.dtype())) +
                       " has no .npy equivalent");
  BS_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  const std::string head = npy_header(tensor);
  BS_TRY(f.write(head.data(), head.size()));
  BS_TRY(f.write(tensor.bytes(), tensor.nbytes()));
  return f.commit();
}

}  // namespace bitsmith
