#include "bitsmith/ir/verifier.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bitsmith/ir/op_schema.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using test::GraphBuilder;

// x[N,3,8,8] -> Conv(w, b) -> Relu -> y
GraphBuilder conv_relu() {
  GraphBuilder b("main");
  b.input("x", DType::kF32, {"N", 3, 8, 8})
      .initializer(Tensor(DType::kF32, {4, 3, 3, 3}, "w"))
      .initializer(Tensor(DType::kF32, {4}, "b"))
      .node("Conv", {"x", "w", "b"}, {"c"}, {test::ints("pads", {1, 1, 1, 1})}, "conv3")
      .node("Relu", {"c"}, {"y"}, {}, "relu")
      .output("y", DType::kF32, {"N", 4, 8, 8});
  return b;
}

// Expects verify() to fail with kInvalidModel and a message containing `fragment`.
void expect_error(const Graph& g, const std::string& fragment) {
  const Status s = verify(g);
  ASSERT_FALSE(s.is_ok()) << "expected an error containing: " << fragment;
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  EXPECT_NE(s.message().find(fragment), std::string::npos) << "message: " << s.message();
}

TEST(Verifier, ValidGraphPasses) {
  const Model m = conv_relu().model();
  const Status s = verify(m);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(Verifier, InitializerMayAlsoBeAGraphInput) {
  GraphBuilder b = conv_relu();
  b.input("w", DType::kF32, {4, 3, 3, 3});  // IR < 4 style
  EXPECT_TRUE(verify(b.graph()).is_ok()) << verify(b.graph()).message();
}

TEST(Verifier, OptionalEmptyInputsAndOutputsAreAllowed) {
  GraphBuilder b;
  b.input("x", DType::kF32, {2, 3})
      .node("Dropout", {"x", "", ""}, {"y", ""})
      .output("y", DType::kF32, {2, 3});
  EXPECT_TRUE(verify(b.graph()).is_ok()) << verify(b.graph()).message();
}

TEST(Verifier, UndefinedInputNamesTheNode) {
  GraphBuilder b = conv_relu();
  b.graph().nodes[0].inputs[0] = "x_missing";
  expect_error(b.graph(), "node 'conv3' (Conv): input 'x_missing' is not defined before use");
}

TEST(Verifier, InputProducedLaterIsOutOfOrder) {
  GraphBuilder b = conv_relu();
  std::swap(b.graph().nodes[0], b.graph().nodes[1]);
  expect_error(b.graph(), "node 'relu' (Relu): input 'c' is not defined before use (it is produced later, by "
                          "node 'conv3' (Conv))");
}

TEST(Verifier, UnnamedNodeIsNamedByIndex) {
  GraphBuilder b = conv_relu();
  b.graph().nodes[1].name.clear();
  b.graph().nodes[1].inputs[0] = "nope";
  expect_error(b.graph(), "node #1 (Relu): input 'nope'");
}

TEST(Verifier, EmptyOpType) {
  GraphBuilder b = conv_relu();
  b.graph().nodes[1].op_type.clear();
  expect_error(b.graph(), "node 'relu' (): op_type is empty");
}

TEST(Verifier, GraphOutputMustBeDefined) {
  GraphBuilder b = conv_relu();
  b.output("z", DType::kF32, {1});
  expect_error(b.graph(), "graph output 'z' is not defined");
  GraphBuilder e = conv_relu();
  e.graph().outputs[0].name.clear();
  expect_error(e.graph(), "a graph output has an empty name");
}

TEST(Verifier, TwoNodesProducingTheSameOutput) {
  GraphBuilder b = conv_relu();
  b.node("Relu", {"c"}, {"y"}, {}, "relu2");
  expect_error(b.graph(), "node 'relu2' (Relu): output 'y' is already defined by an output of node 'relu' (Relu)");
}

TEST(Verifier, NodeOutputRedefiningAnInitializerOrInput) {
  GraphBuilder b = conv_relu();
  b.graph().nodes[1].outputs[0] = "w";
  expect_error(b.graph(), "node 'relu' (Relu): output 'w' is already defined by an initializer");
  GraphBuilder c = conv_relu();
  c.graph().nodes[1].outputs[0] = "x";
  expect_error(c.graph(), "output 'x' is already defined by a graph input");
}

TEST(Verifier, DuplicateGraphInputsAndInitializers) {
  GraphBuilder b = conv_relu();
  b.input("x", DType::kF32, {1});
  expect_error(b.graph(), "graph input 'x' is listed twice");
  GraphBuilder c = conv_relu();
  c.initializer(Tensor(DType::kF32, {4}, "b"));
  expect_error(c.graph(), "initializer 'b' is defined twice");
  GraphBuilder d = conv_relu();
  SparseTensor st;
  st.values = Tensor(DType::kF32, {1}, "w");
  st.indices = Tensor(DType::kI64, {1});
  st.dims = {4, 3, 3, 3};
  d.graph().sparse_initializers.push_back(st);
  expect_error(d.graph(), "sparse initializer 'w' is defined twice");
  GraphBuilder e = conv_relu();
  e.graph().initializers[0].set_name("");
  expect_error(e.graph(), "an initializer has an empty name");
}

TEST(Verifier, SparseInitializerDefinesAValue) {
  GraphBuilder b;
  SparseTensor st;
  st.values = Tensor(DType::kF32, {2}, "s");
  st.indices = Tensor(DType::kI64, {2});
  st.dims = {4};
  b.graph().sparse_initializers.push_back(st);
  b.node("Relu", {"s"}, {"y"}).output("y", DType::kF32, {4});
  EXPECT_TRUE(verify(b.graph()).is_ok()) << verify(b.graph()).message();
}

TEST(Verifier, ArityOfKnownOps) {
  GraphBuilder b = conv_relu();
  b.graph().nodes[0].inputs = {"x"};
  expect_error(b.graph(), "node 'conv3' (Conv): has 1 inputs, expected 2 to 3");
  GraphBuilder c = conv_relu();
  c.graph().nodes[1].outputs = {"y", "y2"};
  expect_error(c.graph(), "node 'relu' (Relu): has 2 outputs, expected 1");

  GraphBuilder d;
  d.input("x", DType::kF32, {4}).node("DynamicQuantizeLinear", {"x"}, {"q", "s"}, {}, "dq");
  expect_error(d.graph(), "node 'dq' (DynamicQuantizeLinear): has 2 outputs, expected 3");

  GraphBuilder e;
  for (const char* n : {"a", "b", "c", "d", "e", "f", "g"}) e.input(n, DType::kF32, {1});
  e.node("QLinearConv", {"a", "b", "c", "d", "e", "f", "g"}, {"y"}, {}, "qc");
  expect_error(e.graph(), "node 'qc' (QLinearConv): has 7 inputs, expected 8 to 9");

  GraphBuilder f;
  f.node("Concat", {}, {"y"}, {test::attr_int("axis", 0)}, "cat");
  expect_error(f.graph(), "node 'cat' (Concat): has 0 inputs, expected at least 1");
}

TEST(Verifier, UnknownOpsAndOtherDomainsAreNotArityChecked) {
  GraphBuilder b;
  b.input("x", DType::kF32, {4})
      .node("MyCustomOp", {"x", "x", "x", "x"}, {"a", "b", "c"})
      .node("Conv", {"a"}, {"y"}, {}, "ms_conv", "com.microsoft")
      .output("y", DType::kF32, {4});
  EXPECT_TRUE(verify(b.graph()).is_ok()) << verify(b.graph()).message();
  b.graph().nodes[1].domain = "ai.onnx";  // default domain by its long name: checked
  expect_error(b.graph(), "node 'ms_conv' (Conv): has 1 inputs");
}

TEST(Verifier, AttributeChecks) {
  GraphBuilder b = conv_relu();
  b.graph().nodes[0].attributes[0].floats = {1.f};
  expect_error(b.graph(), "node 'conv3' (Conv): attribute 'pads' has type ints but also holds floats");

  GraphBuilder c = conv_relu();
  c.graph().nodes[0].attributes[0] = test::attr_int("pads", 1);
  expect_error(c.graph(), "attribute 'pads' has type int, expected ints");

  GraphBuilder d = conv_relu();
  d.graph().nodes[0].attributes.push_back(test::ints("pads", {0, 0, 0, 0}));
  expect_error(d.graph(), "attribute 'pads' is given twice");

  GraphBuilder e = conv_relu();
  e.graph().nodes[0].attributes[0].type = AttrType::kUndefined;
  expect_error(e.graph(), "attribute 'pads' has no type");

  GraphBuilder f = conv_relu();
  Attribute g;
  g.name = "body";
  g.type = AttrType::kGraph;
  f.graph().nodes[1].attributes.push_back(g);
  expect_error(f.graph(), "attribute 'body' has type graph but holds no graph");

  GraphBuilder h = conv_relu();
  h.graph().nodes[1].attributes.push_back(test::tensor_attr("value", Tensor()));
  expect_error(h.graph(), "attribute 'value' has type tensor but holds no tensor");

  // The attribute-name table applies to the default domain only.
  GraphBuilder k;
  k.input("x", DType::kF32, {1}).node("Foo", {"x"}, {"y"}, {test::attr_string("pads", "same")}, "foo", "my.domain");
  EXPECT_TRUE(verify(k.graph()).is_ok()) << verify(k.graph()).message();
}

// if (cond) { then: t = Add(x, one) } else { e = Neg(x) }, x from the outer graph.
GraphBuilder if_graph(const std::string& then_input) {
  GraphBuilder then_b("then");
  then_b.initializer<float>("one", {1.f}, {1})
      .node("Add", {then_input, "one"}, {"t"}, {}, "inner_add")
      .output("t", DType::kF32, {4});
  GraphBuilder else_b("else");
  else_b.node("Neg", {"x"}, {"e"}, {}, "inner_neg").output("e", DType::kF32, {4});
  GraphBuilder b("main");
  b.input("x", DType::kF32, {4})
      .input("cond", DType::kBool, {})
      .node("If", {"cond"}, {"y"},
            {test::graph_attr("then_branch", then_b.build()), test::graph_attr("else_branch", else_b.build())},
            "if1")
      .node("Relu", {"x"}, {"late"}, {}, "late_relu")
      .output("y", DType::kF32, {4});
  return b;
}

TEST(Verifier, SubgraphsSeeTheOuterScope) {
  GraphBuilder b = if_graph("x");
  EXPECT_TRUE(verify(b.graph()).is_ok()) << verify(b.graph()).message();
}

TEST(Verifier, SubgraphErrorsCarryTheirPath) {
  GraphBuilder b = if_graph("nowhere");
  expect_error(b.graph(),
               "node 'if1' (If): attribute 'then_branch': node 'inner_add' (Add): input 'nowhere' is not "
               "defined before use");
  // A value the outer graph defines only after the If node is not visible inside it.
  GraphBuilder c = if_graph("late");
  expect_error(c.graph(), "attribute 'then_branch': node 'inner_add' (Add): input 'late' is not defined");
}

TEST(Verifier, SubgraphNodeOutputMustNotShadowOuterValue) {
  GraphBuilder b = if_graph("x");
  b.graph().nodes[0].attributes[1].g->nodes[0].outputs[0] = "x";
  b.graph().nodes[0].attributes[1].g->outputs[0].name = "x";
  expect_error(b.graph(), "attribute 'else_branch': node 'inner_neg' (Neg): output 'x' shadows a value of an "
                          "enclosing graph");
}

TEST(Verifier, GraphsAttributeIsVerifiedWithIndex) {
  GraphBuilder inner("inner");
  inner.node("Relu", {"undefined_v"}, {"r"}, {}, "r0").output("r", DType::kF32, {1});
  GraphBuilder b;
  b.input("x", DType::kF32, {1})
      .node("Custom", {"x"}, {"y"}, {test::graphs_attr("bodies", {GraphBuilder("ok").build(), inner.build()})},
            "multi", "my.domain");
  expect_error(b.graph(), "node 'multi' (my.domain.Custom): attribute 'bodies'[1]: node 'r0' (Relu): input "
                          "'undefined_v'");
}

TEST(Verifier, DuplicateOpsetImport) {
  Model m = conv_relu().model(17, {OpsetImport{"ai.onnx", 13}});
  const Status s = verify(m);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("opset_import lists domain 'ai.onnx' twice"), std::string::npos) << s.message();
}

TEST(OpSchema, Lookup) {
  EXPECT_GE(op_schema_count(), 80u);
  ASSERT_NE(find_op_schema("", "Conv"), nullptr);
  EXPECT_EQ(find_op_schema("ai.onnx", "Conv"), find_op_schema("", "Conv"));
  EXPECT_EQ(find_op_schema("com.microsoft", "Conv"), nullptr);
  EXPECT_EQ(find_op_schema("", "NoSuchOp"), nullptr);
  EXPECT_EQ(find_op_schema("", "QLinearMatMul")->min_inputs, 8);
  EXPECT_EQ(find_op_schema("", "Concat")->max_inputs, OpSchema::kVariadic);
  EXPECT_EQ(expected_attr_type("kernel_shape"), AttrType::kInts);
  EXPECT_EQ(expected_attr_type("value"), AttrType::kUndefined);
}

// --- the tables against the schemas of the installed onnx Python package ---

struct TempDir {
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bitsmith_verifier_XXXXXX").string();
    path = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

bool python_has(const std::string& module) {
  return std::system(("/usr/bin/python3 -c 'import " + module + "' >/dev/null 2>&1").c_str()) == 0;
}

// Every op in our table that onnx knows: same minimum counts, maxima at least onnx's union over
// all opsets (our table may also cover newer opsets than the installed onnx). Every attribute
// name in our type table has that type in every default-domain schema that uses it.
TEST(OpSchema, AgreesWithOnnxPythonSchemas) {
  if (!python_has("onnx")) GTEST_SKIP() << "/usr/bin/python3 has no onnx module";
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string script = dir.path + "/schemas.py", out = dir.path + "/schemas.txt";
  std::ofstream(script) << R"PY(
import sys, onnx.defs
u, attrs = {}, []
for s in onnx.defs.get_all_schemas_with_history():
    if s.domain != '':
        continue
    a = u.setdefault(s.name, [10**9, 0, 10**9, 0])
    a[0] = min(a[0], s.min_input); a[1] = max(a[1], s.max_input)
    a[2] = min(a[2], s.min_output); a[3] = max(a[3], s.max_output)
    for name, at in s.attributes.items():
        attrs.append('attr %s %d %s' % (name, int(at.type), s.name))
with open(sys.argv[1], 'w') as f:
    for k, a in sorted(u.items()):
        f.write('op %s %s\n' % (k, ' '.join(str(-1 if v >= 2**31 - 1 else v) for v in a)))
    f.write('\n'.join(attrs) + '\n')
)PY";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script + " " + out).c_str()), 0);
  std::ifstream in(out);
  std::string line;
  int ops_compared = 0, attrs_compared = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string kind, name;
    ls >> kind >> name;
    if (kind == "op") {
      int mn_in, mx_in, mn_out, mx_out;
      ls >> mn_in >> mx_in >> mn_out >> mx_out;
      const OpSchema* s = find_op_schema("", name);
      if (!s) continue;
      ++ops_compared;
      auto at_least = [](int ours, int theirs) { return ours == OpSchema::kVariadic || (theirs != -1 && ours >= theirs); };
      EXPECT_EQ(s->min_inputs, mn_in) << name;
      EXPECT_EQ(s->min_outputs, mn_out) << name;
      EXPECT_TRUE(at_least(s->max_inputs, mx_in)) << name << " max inputs " << s->max_inputs << " vs onnx " << mx_in;
      EXPECT_TRUE(at_least(s->max_outputs, mx_out)) << name << " max outputs " << s->max_outputs << " vs onnx " << mx_out;
    } else if (kind == "attr") {
      int type;
      std::string op;
      ls >> type >> op;
      const AttrType ours = expected_attr_type(name);
      if (ours == AttrType::kUndefined) continue;
      ++attrs_compared;
      EXPECT_EQ(static_cast<int>(ours), type) << "attribute '" << name << "' of " << op;
    }
  }
  EXPECT_GE(ops_compared, 80);
  EXPECT_GE(attrs_compared, 100);
}

}  // namespace
}  // namespace bitsmith
