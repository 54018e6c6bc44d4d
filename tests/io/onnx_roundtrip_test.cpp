// Lossless round trip: read -> write -> read gives the same print_model() text and bit-identical
// tensors, for every ONNX conformance model and the MNIST models (inline and external data),
// and for a model built here that sets every field the IR holds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "bitsmith/io/model_io.h"
#include "bitsmith/io/onnx.h"
#include "bitsmith/ir/printer.h"
#include "io/onnx_test_helpers.h"

namespace bitsmith {
namespace {

using testing::TempDir;
namespace pb = testing::pb;
namespace fs = std::filesystem;

// Every tensor in a graph, subgraphs included, in a fixed order.
void collect_tensors(const Graph& g, std::vector<const Tensor*>* out) {
  for (const Tensor& t : g.initializers) out->push_back(&t);
  for (const SparseTensor& s : g.sparse_initializers) {
    out->push_back(&s.values);
    out->push_back(&s.indices);
  }
  for (const Node& n : g.nodes) {
    for (const Attribute& a : n.attributes) {
      if (a.t.defined()) out->push_back(&a.t);
      for (const Tensor& t : a.tensors) out->push_back(&t);
      if (a.sparse_tensor.values.defined()) out->push_back(&a.sparse_tensor.values);
      if (a.g) collect_tensors(*a.g, out);
      for (const auto& sub : a.graphs) collect_tensors(*sub, out);
    }
  }
}

// Checks that `b` (read back) equals `a`: printed text and every tensor's bytes and name.
void expect_same_model(const Model& a, const Model& b, const std::string& what) {
  EXPECT_EQ(print_model(a), print_model(b)) << what;
  std::vector<const Tensor*> ta, tb;
  collect_tensors(a.graph, &ta);
  collect_tensors(b.graph, &tb);
  ASSERT_EQ(ta.size(), tb.size()) << what;
  for (size_t i = 0; i < ta.size(); ++i) {
    EXPECT_TRUE(ta[i]->same_content(*tb[i])) << what << ": tensor '" << ta[i]->name() << "'";
    EXPECT_EQ(ta[i]->name(), tb[i]->name()) << what;
  }
}

OnnxReadOptions no_verify() {
  OnnxReadOptions o;
  o.verify_graph = false;
  return o;
}

TEST(OnnxRoundTrip, EveryConformanceAndMnistModel) {
  std::vector<std::string> models = testing::conformance_models();
  for (const std::string& m : testing::mnist_models()) models.push_back(m);
  if (models.empty()) GTEST_SKIP() << "no shared ONNX models under " << testing::shared_dir();
  TempDir dir;
  int round_tripped = 0, constant_nodes = 0, subgraphs = 0;
  for (const std::string& path : models) {
    Expected<Model> a = read_onnx(path, no_verify());
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    const std::string out1 = dir.file("first.onnx"), out2 = dir.file("second.onnx");
    ASSERT_TRUE(write_onnx(*a, out1, {}).is_ok()) << path;
    Expected<Model> b = read_onnx(out1, no_verify());
    ASSERT_TRUE(b.is_ok()) << path << ": " << b.status().message();
    expect_same_model(*a, *b, path);
    // The writer's output is canonical: writing what it wrote gives the same bytes.
    ASSERT_TRUE(write_onnx(*b, out2, {}).is_ok()) << path;
    EXPECT_EQ(testing::read_bytes(out1), testing::read_bytes(out2)) << path;
    for (const Node& n : a->graph.nodes) {
      constant_nodes += n.op_type == "Constant";
      for (const Attribute& at : n.attributes) subgraphs += (at.g ? 1 : 0) + static_cast<int>(at.graphs.size());
    }
    ++round_tripped;
  }
  std::cout << "[ onnx-io  ] round-tripped " << round_tripped << " models (" << constant_nodes
            << " Constant nodes, " << subgraphs << " subgraphs)\n";
  RecordProperty("models_round_tripped", round_tripped);
  EXPECT_GT(constant_nodes, 0);
  EXPECT_GT(subgraphs, 0);
}

// The default read (verify_graph on) accepts every valid model the ONNX project ships.
TEST(OnnxRoundTrip, DefaultReadVerifiesEveryConformanceModel) {
  std::vector<std::string> models = testing::conformance_models();
  for (const std::string& m : testing::mnist_models()) models.push_back(m);
  if (models.empty()) GTEST_SKIP() << "no shared ONNX models";
  for (const std::string& path : models) {
    Expected<Model> m = read_onnx(path);
    EXPECT_TRUE(m.is_ok()) << m.status().message();
  }
}

TEST(OnnxRoundTrip, MnistWithExternalData) {
  const std::vector<std::string> models = testing::mnist_models();
  if (models.empty()) GTEST_SKIP() << "no MNIST models";
  for (const std::string& path : models) {
    Expected<Model> a = read_onnx(path);
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    TempDir dir;
    const std::string out = dir.file("mnist.onnx");
    OnnxWriteOptions ext;
    ext.external_data = ExternalDataMode::kAlways;
    ext.external_min_bytes = 64;
    ASSERT_TRUE(write_onnx(*a, out, ext).is_ok()) << path;
    ASSERT_TRUE(fs::exists(dir.file("mnist.onnx.data"))) << "data file not written";
    EXPECT_LT(fs::file_size(out), fs::file_size(path) / 4) << "weights should have left the model file";
    Expected<Model> b = read_onnx(out);
    ASSERT_TRUE(b.is_ok()) << b.status().message();
    expect_same_model(*a, *b, path + " (external data)");
    int external = 0;
    std::vector<const Tensor*> tensors;  // initializers and Constant values alike
    collect_tensors(b->graph, &tensors);
    for (const Tensor* t : tensors) {
      if (t->nbytes() < 64) continue;
      ++external;
      EXPECT_TRUE(t->is_mapped()) << t->name() << ": 64-byte aligned external data should be a view";
    }
    EXPECT_GT(external, 0);
    // And back to a single file.
    ASSERT_TRUE(write_onnx(*b, dir.file("inline.onnx"), {}).is_ok());
    Expected<Model> c = read_onnx(dir.file("inline.onnx"));
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    expect_same_model(*a, *c, path + " (back inline)");
    EXPECT_FALSE(fs::exists(dir.file("inline.onnx.data")));
  }
}

// Graph inputs that must be fed (not initializers), in order: what input_K.pb files match.
std::vector<const ValueInfo*> fed_inputs(const Graph& g) { return g.runtime_inputs(); }

// Checks that a decoded test tensor agrees with the value's declared type.
void expect_matches_type(const Tensor& t, const ValueInfo& v, const std::string& what) {
  if (v.type.elem_type != DType::kUndefined) {
    EXPECT_EQ(t.dtype(), v.type.elem_type) << what;
  }
  // CastLike's `like` input only carries a dtype; ONNX 1.12 stores it as [1] whatever it declares.
  if (!v.type.has_shape || v.name == "like") return;
  ASSERT_EQ(static_cast<size_t>(t.rank()), v.type.dims.size()) << what;
  for (int i = 0; i < t.rank(); ++i) {
    const Dim& d = v.type.dims[static_cast<size_t>(i)];
    if (d.has_value()) {
      EXPECT_EQ(t.dim(i), d.value) << what << " dim " << i;
    }
  }
}

TEST(OnnxRoundTrip, ConformanceTensorProtoFiles) {
  const std::vector<std::string> models = testing::conformance_models();
  if (models.empty()) GTEST_SKIP() << "no conformance cases";
  int read = 0, not_tensor = 0, bf16_as_u16 = 0;
  for (const std::string& model_path : models) {
    Expected<Model> m = read_onnx(model_path, no_verify());
    ASSERT_TRUE(m.is_ok()) << m.status().message();
    const std::vector<const ValueInfo*> inputs = fed_inputs(m->graph);
    for (const auto& set : fs::directory_iterator(fs::path(model_path).parent_path())) {
      if (!set.is_directory()) continue;
      for (const auto& f : fs::directory_iterator(set.path())) {
        const std::string name = f.path().filename().string();
        if (f.path().extension() != ".pb") continue;
        const bool is_input = name.rfind("input_", 0) == 0;
        const size_t k = std::stoul(name.substr(is_input ? 6 : 7));
        const std::vector<ValueInfo>& outs = m->graph.outputs;
        const ValueInfo* v = is_input ? (k < inputs.size() ? inputs[k] : nullptr) : (k < outs.size() ? &outs[k] : nullptr);
        ASSERT_NE(v, nullptr) << f.path();
        if (v->type.kind != TypeInfo::Kind::kTensor) {  // sequence / optional values
          ++not_tensor;
          continue;
        }
        Expected<Tensor> t = read_tensor_proto_file(f.path().string());
        ASSERT_TRUE(t.is_ok()) << t.status().message();
        // ONNX 1.12's generator stores bfloat16 test values as a uint16 tensor of other dims.
        if (v->type.elem_type == DType::kBF16 && t->dtype() == DType::kU16) {
          ++bf16_as_u16;
        } else {
          expect_matches_type(*t, *v, f.path().string());
        }
        ++read;
      }
    }
  }
  std::cout << "[ onnx-io  ] read " << read << " input/output TensorProto files (" << not_tensor
            << " sequence/optional values skipped, " << bf16_as_u16 << " bf16 values stored as u16)\n";
  EXPECT_GT(read, 1000);
}

// ---- a model that sets every field the IR holds ----

Tensor pattern_tensor(DType t, Shape shape, const std::string& name) {
  Tensor out(t, std::move(shape), name);
  for (size_t i = 0; i < out.nbytes(); ++i) out.mutable_bytes()[i] = static_cast<std::byte>(i * 13 + 7);
  return out;
}

ValueInfo tensor_value(const std::string& name, DType t, std::vector<Dim> dims) {
  ValueInfo v;
  v.name = name;
  v.type.kind = TypeInfo::Kind::kTensor;
  v.type.elem_type = t;
  v.type.elem_type_code = dtype_to_onnx(t);
  v.type.has_shape = true;
  v.type.dims = std::move(dims);
  return v;
}

SparseTensor sparse(const std::string& name) {
  SparseTensor s;
  s.values = Tensor::from_vector<float>({1.f, 2.f}, {2}, name);
  s.indices = Tensor::from_vector<int64_t>({1, 5}, {2}, name + "_idx");
  s.dims = {2, 3};
  s.unknown_fields = pb::int_field(77, 1);
  return s;
}

std::shared_ptr<Graph> body_graph() {
  auto g = std::make_shared<Graph>();
  g->name = "body";
  g->outputs.push_back(tensor_value("y", DType::kF32, {Dim{1, {}, {}}}));
  Node n;
  n.op_type = "Identity";
  n.name = "inner";
  n.inputs = {"x"};
  n.outputs = {"y"};
  g->nodes.push_back(n);
  g->initializers.push_back(pattern_tensor(DType::kF16, {3}, "inner_w"));
  return g;
}

Node attribute_zoo() {
  Node n;
  n.op_type = "Zoo";
  n.domain = "com.example";
  n.name = "zoo";
  n.inputs = {"x", "", "w_i4"};
  n.outputs = {"z"};
  n.overload = "v2";
  n.doc_string = "node doc";
  n.metadata_props = {{"node_key", "node_value"}};
  n.unknown_fields = pb::str_field(120, "future node field");
  n.attributes.push_back(Attribute::make_float("f", -0.0f));
  n.attributes.push_back(Attribute::make_int("i", -42));
  n.attributes.push_back(Attribute::make_string("s", std::string("bytes\0\xff", 7)));
  n.attributes.push_back(Attribute::make_tensor("t", pattern_tensor(DType::kBF16, {2, 2}, "t_val")));
  n.attributes.push_back(Attribute::make_floats("floats", {1.5f, -2.f}));
  n.attributes.push_back(Attribute::make_ints("ints", {0, -1, int64_t{1} << 40}));
  Attribute a;
  a.name = "strings"; a.type = AttrType::kStrings; a.strings = {"a", "", "c"};
  n.attributes.push_back(a);
  a = Attribute(); a.name = "tensors"; a.type = AttrType::kTensors;
  a.tensors = {pattern_tensor(DType::kU4, {5}, "u4"), Tensor::strings({2}, {"p", "q"}, "strs")};
  n.attributes.push_back(a);
  a = Attribute(); a.name = "g"; a.type = AttrType::kGraph; a.g = body_graph();
  n.attributes.push_back(a);
  a = Attribute(); a.name = "graphs"; a.type = AttrType::kGraphs; a.graphs = {body_graph(), body_graph()};
  n.attributes.push_back(a);
  a = Attribute(); a.name = "sparse"; a.type = AttrType::kSparseTensor; a.sparse_tensor = sparse("sp_attr");
  n.attributes.push_back(a);
  a = Attribute(); a.name = "sparses"; a.type = AttrType::kSparseTensors; a.sparse_tensors = {sparse("s1"), sparse("s2")};
  n.attributes.push_back(a);
  const std::string seq_type = pb::msg(4, pb::msg(1, pb::msg(1, pb::int_field(1, 1))));
  a = Attribute(); a.name = "tp"; a.type = AttrType::kTypeProto; a.type_proto = seq_type;
  n.attributes.push_back(a);
  a = Attribute(); a.name = "tps"; a.type = AttrType::kTypeProtos; a.type_protos = {seq_type, seq_type};
  n.attributes.push_back(a);
  a = Attribute(); a.name = "ref"; a.type = AttrType::kFloat; a.ref_attr_name = "alpha"; a.doc_string = "refers";
  a.unknown_fields = pb::int_field(99, 3);
  n.attributes.push_back(a);
  return n;
}

Model every_field_model() {
  Model m;
  m.ir_version = 10;
  m.opset_imports = {{"", 21}, {"com.example", 1}};
  m.producer_name = "bitsmith-test";
  m.producer_version = "1.2.3";
  m.domain = "org.bitsmith";
  m.model_version = 7;
  m.doc_string = "model doc";
  m.metadata_props = {{"k1", "v1"}, {"k2", ""}};
  m.functions = {pb::str_field(1, "MyFunc") + pb::str_field(4, "x") + pb::str_field(5, "y") + pb::str_field(10, "com.example")};
  m.training_info = {pb::msg(1, pb::str_field(2, "init"))};
  m.unknown_fields = pb::int_field(300, 12345);
  Graph& g = m.graph;
  g.name = "main";
  g.doc_string = "graph doc";
  ValueInfo x = tensor_value("x", DType::kF32, {Dim{-1, "batch", "DATA_BATCH"}, Dim{3, {}, {}}, Dim{}});
  x.type.denotation = "TENSOR";
  x.doc_string = "input doc";
  x.metadata_props = {{"vi", "meta"}};
  x.unknown_fields = pb::int_field(50, 1);
  g.inputs.push_back(x);
  g.outputs.push_back(tensor_value("z", DType::kF32, {}));
  ValueInfo seq;
  seq.name = "seq";
  seq.type.kind = TypeInfo::Kind::kOther;
  seq.type.raw = pb::msg(4, pb::msg(1, pb::msg(1, pb::int_field(1, 7))));
  g.value_info.push_back(seq);
  ValueInfo sp = tensor_value("sp", DType::kF32, {Dim{2, {}, {}}});
  sp.type.kind = TypeInfo::Kind::kSparseTensor;
  g.value_info.push_back(sp);
  ValueInfo unknown_elem;
  unknown_elem.name = "odd";
  unknown_elem.type.kind = TypeInfo::Kind::kTensor;
  unknown_elem.type.elem_type_code = 23;  // float4e2m1: no DType, code kept
  g.value_info.push_back(unknown_elem);
  ValueInfo untyped;
  untyped.name = "untyped";
  g.value_info.push_back(untyped);
  ValueInfo denoted;  // a TypeProto holding only a denotation and an unknown field
  denoted.name = "denoted";
  denoted.type.denotation = "IMAGE";
  denoted.type.unknown_fields = pb::int_field(60, 2);
  g.value_info.push_back(denoted);
  for (int i = 1; i < static_cast<int>(DType::kCount); ++i) {
    const auto t = static_cast<DType>(i);
    if (t == DType::kString) {
      g.initializers.push_back(Tensor::strings({2, 1}, {"s0", std::string("\0s1", 3)}, "w_string"));
    } else {
      g.initializers.push_back(pattern_tensor(t, {3, 3}, "w_" + std::string(dtype_name(t))));
    }
  }
  g.initializers.push_back(pattern_tensor(DType::kF32, {0, 4}, "w_empty"));
  g.initializers.push_back(Tensor::scalar<int64_t>(-9, "w_scalar"));
  g.sparse_initializers.push_back(sparse("sp_init"));
  g.quantization_annotation = {pb::str_field(1, "x") + pb::msg(2, pb::str_field(1, "SCALE_TENSOR") + pb::str_field(2, "s"))};
  g.metadata_props = {{"graph_key", "graph_value"}};
  g.unknown_fields = pb::str_field(400, "future graph field");
  Node c;
  c.op_type = "Constant";
  c.name = "const";
  c.outputs = {"c_out"};
  c.attributes.push_back(Attribute::make_tensor("value", Tensor::from_vector<float>({1, 2, 3}, {3}, "")));
  g.nodes.push_back(c);
  g.nodes.push_back(attribute_zoo());
  return m;
}

TEST(OnnxRoundTrip, EveryIrFieldSurvives) {
  const Model m = every_field_model();
  TempDir dir;
  for (ExternalDataMode mode : {ExternalDataMode::kNever, ExternalDataMode::kAlways, ExternalDataMode::kAuto}) {
    OnnxWriteOptions o;
    o.external_data = mode;
    o.external_min_bytes = 8;
    const std::string path = dir.file("every" + std::to_string(static_cast<int>(mode)) + ".onnx");
    ASSERT_TRUE(write_onnx(m, path, o).is_ok());
    Expected<Model> back = read_onnx(path, no_verify());
    ASSERT_TRUE(back.is_ok()) << back.status().message();
    expect_same_model(m, *back, path);
    EXPECT_EQ(fs::exists(path + ".data"), mode == ExternalDataMode::kAlways) << path;
    // print_model shows a kind-less type as "notype": compare what it leaves out directly.
    ASSERT_EQ(back->graph.value_info.size(), m.graph.value_info.size());
    for (size_t i = 0; i < m.graph.value_info.size(); ++i) {
      const TypeInfo& want = m.graph.value_info[i].type;
      const TypeInfo& got = back->graph.value_info[i].type;
      EXPECT_EQ(got.kind, want.kind) << i;
      EXPECT_EQ(got.denotation, want.denotation) << i;
      EXPECT_EQ(got.unknown_fields, want.unknown_fields) << i;
      EXPECT_EQ(got.raw, want.raw) << i;
    }
  }
}

// TensorProto fields a Tensor has no slot for (doc_string, metadata_props, unknown) are kept
// and written back inside the same TensorProto.
TEST(OnnxRoundTrip, TensorProtoExtrasAreKept) {
  TempDir dir;
  const std::string extras = pb::str_field(12, "weight doc") +
                             pb::msg(16, pb::str_field(1, "origin") + pb::str_field(2, "layer3")) +
                             pb::int_field(50, 9);
  const std::string w = pb::tensor_header({2}, 1, "W") + pb::raw_data(std::string(8, '\3')) + extras;
  const std::string t_attr = pb::str_field(1, "value") + pb::msg(5, pb::tensor_header({1}, 7, "") +
                             pb::packed_varints(7, {4}) + pb::str_field(12, "attr tensor doc")) + pb::int_field(20, 4);
  const std::string graph = pb::msg(1, pb::node("Constant", {}, {"C"}, "c0", pb::msg(5, t_attr))) +
                            pb::str_field(2, "g") + pb::msg(5, w) + pb::msg(12, pb::value_info_f32("C", {1}));
  testing::write_bytes(dir.file("in.onnx"), pb::model(graph));
  Expected<Model> a = read_onnx(dir.file("in.onnx"));
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  ASSERT_TRUE(write_onnx(*a, dir.file("out.onnx")).is_ok());
  Expected<Model> b = read_onnx(dir.file("out.onnx"));
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  expect_same_model(*a, *b, "extras");
  // The written initializer carries the extras itself; no private record reaches the file.
  const std::string out = testing::read_bytes(dir.file("out.onnx"));
  EXPECT_NE(out.find(extras), std::string::npos);
  EXPECT_NE(out.find("attr tensor doc"), std::string::npos);
  wire::Reader r(std::span<const std::byte>(reinterpret_cast<const std::byte*>(out.data()), out.size()));
  wire::Field f;
  while (!r.done()) {
    ASSERT_TRUE(r.next(&f).is_ok());
    if (f.number != 7) continue;
    wire::Reader gr(f.bytes);
    wire::Field gf;
    while (!gr.done()) {
      ASSERT_TRUE(gr.next(&gf).is_ok());
      EXPECT_LT(gf.number, 100u) << "private record written into the graph";
    }
  }
}

// A 2.2 GB tensor (a view over a sparse file: no memory or disk used) cannot go inline: kNever
// refuses before writing anything.
TEST(OnnxRoundTrip, InlineOverTwoGigabytesIsRefused) {
  TempDir dir;
  const std::string big = dir.file("sparse.bin");
  const uint64_t nbytes = uint64_t{2200} << 20;
  { std::ofstream f(big, std::ios::binary); }
  fs::resize_file(big, nbytes);
  Expected<std::shared_ptr<MappedFile>> mf = MappedFile::open(big);
  ASSERT_TRUE(mf.is_ok()) << mf.status().message();
  Model m;
  m.graph.name = "big";
  m.graph.initializers.push_back(Tensor::view(DType::kF32, {static_cast<int64_t>(nbytes / 4)}, *mf, (*mf)->data(), "W"));
  OnnxWriteOptions o;
  o.external_data = ExternalDataMode::kNever;
  const Status st = write_onnx(m, dir.file("big.onnx"), o);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("over protobuf's 2 GB limit"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(dir.file("big.onnx")));
  EXPECT_FALSE(fs::exists(dir.file("big.onnx.data")));
}

TEST(OnnxRoundTrip, ModelIoDispatchesByExtension) {
  TempDir dir;
  const Model m = every_field_model();
  ASSERT_TRUE(save_model(m, dir.file("m.ONNX")).is_ok());
  Expected<Model> back = load_model(dir.file("m.ONNX"));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  expect_same_model(m, *back, "load_model");
  Status bad = save_model(m, dir.file("m.gguf"));
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("'.gguf'"), std::string::npos) << bad.message();
  EXPECT_EQ(load_model(dir.file("m.txt")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(load_model(dir.file("missing.onnx")).status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace bitsmith
