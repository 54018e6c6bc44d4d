// Helpers for the ONNX reader/writer tests: temp folders, crafting tiny protobufs with the wire
// writer, and finding the shared conformance models.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bitsmith/io/protobuf_wire.h"

namespace bitsmith::testing {

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bitsmith_onnx_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    path_ = p ? std::string(p) : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline std::string shared_dir() { return std::string(BITSMITH_SOURCE_DIR) + "/../shared"; }

// model.onnx files of the ONNX conformance cases (node/ and simple/) and the MNIST models,
// sorted.
inline std::vector<std::string> conformance_models() {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const char* sub : {"/onnx-node-tests/node", "/onnx-node-tests/simple"}) {
    const fs::path root = shared_dir() + sub;
    if (!fs::is_directory(root)) continue;
    for (const auto& e : fs::directory_iterator(root))
      if (fs::exists(e.path() / "model.onnx")) out.push_back((e.path() / "model.onnx").string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<std::string> mnist_models() {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  const fs::path root = shared_dir() + "/data/onnx-mnist-cntk";
  if (fs::is_directory(root))
    for (const auto& e : fs::directory_iterator(root))
      if (e.path().extension() == ".onnx") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- crafting protobufs ----
namespace pb {

inline std::string str_field(uint32_t number, const std::string& s) {
  wire::Writer w;
  w.bytes_field(number, s);
  return w.to_string();
}
inline std::string int_field(uint32_t number, int64_t v) {
  wire::Writer w;
  w.int64_field(number, v);
  return w.to_string();
}
inline std::string fixed32_field(uint32_t number, uint32_t bits) {
  wire::Writer w;
  w.fixed32_field(number, bits);
  return w.to_string();
}
inline std::string fixed64_field(uint32_t number, uint64_t bits) {
  wire::Writer w;
  w.tag(number, wire::WireType::kFixed64);
  std::string s = w.to_string();
  s.append(reinterpret_cast<const char*>(&bits), 8);
  return s;
}
inline std::string varint(uint64_t v) {
  wire::Writer w;
  w.varint(v);
  return w.to_string();
}
// A length-delimited field holding `payload` (a nested message or bytes).
inline std::string msg(uint32_t number, const std::string& payload) { return str_field(number, payload); }
// A packed field of varints.
inline std::string packed_varints(uint32_t number, const std::vector<int64_t>& values) {
  std::string payload;
  for (int64_t v : values) payload += varint(static_cast<uint64_t>(v));
  return msg(number, payload);
}

// TensorProto with dims, data type and name; append data fields to it.
inline std::string tensor_header(const std::vector<int64_t>& dims, int data_type, const std::string& name) {
  std::string t;
  for (int64_t d : dims) t += int_field(1, d);
  t += int_field(2, data_type);
  if (!name.empty()) t += str_field(8, name);
  return t;
}
inline std::string raw_data(const std::string& bytes) { return str_field(9, bytes); }

inline std::string value_info_f32(const std::string& name, const std::vector<int64_t>& dims) {
  std::string shape;
  for (int64_t d : dims) shape += msg(1, int_field(1, d));
  const std::string tensor_type = int_field(1, 1) + msg(2, shape);
  return str_field(1, name) + msg(2, msg(1, tensor_type));
}

inline std::string node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name,
                        const std::string& attributes = "") {
  std::string n;
  for (const auto& i : inputs) n += str_field(1, i);
  for (const auto& o : outputs) n += str_field(2, o);
  n += str_field(3, name) + str_field(4, op) + attributes;
  return n;
}

// ModelProto around a GraphProto payload, opset 17.
inline std::string model(const std::string& graph_payload, int64_t ir_version = 8) {
  const std::string opset = str_field(1, "") + int_field(2, 17);
  return int_field(1, ir_version) + str_field(2, "bitsmith-test") + msg(7, graph_payload) + msg(8, opset);
}

}  // namespace pb
}  // namespace bitsmith::testing
