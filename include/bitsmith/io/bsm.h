// The bitsmith container (.bsm): a model's graph plus its initializers, each tensor stored in
// the smallest of a few lossless encodings, entropy-coded. Reading a .bsm and writing it as
// .onnx gives the same tensors bit for bit and the same graph as an ONNX round trip.
//
// ---- Format, version 1.0. All integers little-endian, offsets in bytes from the file start ----
//
// File = header | section table | section bodies | footer
//
// Header (32 bytes)
//   0   8  magic 89 42 53 4D 0D 0A 1A 0A ("\x89BSM\r\n\x1a\n"; catches text-mode mangling)
//   8   2  major version = 1. A reader refuses any other major version.
//  10   2  minor version = 0. Readers accept any minor: a minor version only adds section kinds
//          (unknown kinds are skipped) or flag bits (unknown bits are ignored).
//  12   4  flags = 0 (none defined in 1.0)
//  16   8  file size in bytes, footer included (a truncated file is reported as such)
//  24   4  section count S (1 .. 64)
//  28   4  reserved = 0
//
// Section table: S entries of 40 bytes, right after the header
//   0   4  kind, 4 ASCII bytes: "GRPH" (graph, exactly one) or "TNSR" (tensors, at most one)
//   4   1  coder of the stored bytes (see Coders)
//   5   3  reserved = 0
//   8   8  offset of the stored bytes (a multiple of 8; bodies follow the table in table order,
//          zero padding between them)
//  16   8  stored size in bytes
//  24   8  decoded size in bytes (after the coder; equals the stored size for coder 0)
//  32   4  CRC-32 (zlib/IEEE 802.3) of the stored bytes
//  36   4  reserved = 0
//
// Footer (8 bytes, the file's last)
//   0   4  CRC-32 of every byte before the footer
//   4   4  end marker "BSM." (42 53 4D 2E)
//
// GRPH body: an ONNX ModelProto (protobuf wire format, as io/onnx.h writes it) whose top-level
//   graph has no initializer; they are in TNSR, in their original order, and are appended to
//   graph.initializer when reading. Everything else (attribute tensors such as Constant values,
//   subgraphs with their own initializers, sparse initializers) stays inside the ModelProto.
//   It is parsed by the ONNX reader's code: an external-data reference in it (never written by
//   bitsmith) is resolved as for ONNX, relative to the .bsm's folder, with the same checks.
//
// TNSR body
//   u32 tensor count T, then T records, then nothing (trailing bytes are an error):
//   u32 name length N, N bytes of name (UTF-8)
//   u32 ONNX TensorProto.DataType code
//   u32 rank R (<= 64), then R x i64 dims (each >= 0)
//   u32 extras length E, E bytes: the TensorProto's doc_string / metadata_props / unknown fields
//       as protobuf wire bytes (usually E = 0)
//   u8  encoding (see Encodings)
//   u8  coder (see Coders)
//   u16 reserved = 0
//   u64 decoded payload size D (the encoding's bytes, after the coder)
//   u64 stored payload size P, then P bytes
//
// Words: encodings see a tensor's storage as n little-endian words of w bytes:
//   dtypes of 8/16/32/64 bits: w = bits / 8, n = numel; complex64 / complex128: w = 4 / 8,
//   n = 2 numel (real and imaginary parts); int4 / uint4: w = 1, n = ceil(numel / 2) (the packed
//   bytes, low nibble first, as ONNX stores them); strings: encoding 3 only. The zero word is
//   the all-zero bit pattern (so -0.0 is not zero).
//
// Encodings (the D payload bytes)
//   0 raw      n x w bytes: the storage as is.
//   1 palette  u8 b (index bits, 1..8); u16 K (codebook size, 1 .. 2^b); K x w codebook words;
//              ceil(n b / 8) bytes of indices, packed LSB first (index i is bits [i b, i b + b) of
//              the little-endian bit stream; pad bits are ignored). Every index < K.
//   2 sparse   varint nnz (<= n); nnz varints of position deltas (the first is the position,
//              each next one is position - previous position - 1; every position < n); u8 value
//              encoding (0 raw or 1 palette) and that encoding's payload for the nnz value words.
//              Every other word is zero. Varints are LEB128, at most 10 bytes.
//   3 strings  numel x (varint byte length, bytes).
//   4 planes   n x w bytes: byte 0 of every word, then byte 1 of every word, ... (byte k of word
//              i at k n + i). Puts float exponents together, where Huffman codes them in a
//              few bits.
//   The payload must be exactly D bytes.
//
// Coders (for section bodies and tensor payloads)
//   0 none     the stored bytes are the payload.
//   1 huffman  a raw deflate stream (RFC 1951, no zlib header) written with Z_HUFFMAN_ONLY.
//   2 deflate  a raw deflate stream (LZ77 + Huffman).
//   The stream must inflate to exactly the declared decoded size and end at the last stored byte.
//
// Limits a reader enforces (writers never exceed them): a tensor's storage is at most
// 16384 x P + 1 MiB bytes (bounds what a tiny crafted payload can make the reader allocate;
// deflate alone expands at most ~1032x, palette 8x more); every length, count and offset is
// checked against the bytes present before use.
//
// Writer's choice: per tensor it tries raw, planes (w > 1), palette (when there are at most 256 distinct words;
// indices packed at the smallest b and one per byte), and sparse (when at least half the words
// are zero, values raw or palette), each with coders none and huffman, then plain deflate on the
// best of those; the smallest stored size wins (ties: the earlier candidate). Deterministic.
//
// Errors: kIoError when the file cannot be opened or written; kInvalidModel for anything
// malformed, one line naming the file, the place and what was expected, e.g.
// "m.bsm: tensor 'fc1.weight': palette index 300 >= codebook size 256"; kUnsupported for another
// major version ("m.bsm: .bsm format version 2.0 is not supported; this build reads 1.x").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/ir/graph.h"

namespace bitsmith {

struct BsmWriteOptions {
  // Also try plain deflate (LZ77) on the best candidate; off = huffman/none only (faster).
  bool try_deflate = true;
};

struct BsmReadOptions {
  bool verify_checksums = true;  // off only to test the parser on corrupted bytes
  bool verify_graph = true;      // run ir::verify after reading
};

// How one tensor is stored (for `bitsmith inspect`).
struct BsmTensorInfo {
  std::string name;
  std::string dtype;        // "f32", ...
  Shape shape;
  std::string encoding;     // "raw", "planes", "palette(b=4,K=16)", "sparse(nnz=123,palette(b=4,K=15))", "strings"
  std::string coder;        // "none", "huffman", "deflate"
  uint64_t tensor_bytes = 0;  // storage bytes in memory
  uint64_t stored_bytes = 0;  // payload bytes in the file
};

struct BsmInfo {
  int major = 0, minor = 0;
  uint64_t file_bytes = 0;
  uint64_t graph_stored_bytes = 0;
  uint64_t graph_decoded_bytes = 0;
  std::vector<BsmTensorInfo> tensors;
};

// The .bsm bytes of `model`. Errors: kInvalidArgument for a tensor dtype ONNX cannot name.
Expected<std::string> serialize_bsm(const Model& model, const BsmWriteOptions& options = {});
// Writes serialize_bsm(model) to `path` atomically.
Status write_bsm(const Model& model, const std::string& path, const BsmWriteOptions& options = {});

// Parses .bsm bytes; `display` prefixes every error message. Fills *info when not null.
Expected<Model> parse_bsm(std::span<const std::byte> bytes, const std::string& display,
                          const BsmReadOptions& options = {}, BsmInfo* info = nullptr);
Expected<Model> read_bsm(const std::string& path, const BsmReadOptions& options = {}, BsmInfo* info = nullptr);

}  // namespace bitsmith
