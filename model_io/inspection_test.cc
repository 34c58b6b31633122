#include "model_io/inspection.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"
#include "quant/learned_points.h"
#include "model_io/decoder.h"
#include "nn_models/scripted_model.h"
#include "quant/uniform.h"
#include "quant/uniform_codec.h"
#include "serialization/atomic_file.h"
#include "serialization/model_file.h"
#include "serialization/tensor_codec.h"
#include "vq/codebook_codec.h"

namespace mc::model_io {
namespace {

using serialization::CompressedModel;
using serialization::CompressedTensor;
using ::testing::ContainsRegex;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

CompressedTensor Shaped(const std::string& name, const std::vector<int64_t>& shape) {
  CompressedTensor tensor;
  tensor.set_name(name);
  for (const int64_t size : shape) tensor.add_shape(size);
  return tensor;
}

// One tensor of every encoding: 59 values in all.
CompressedModel HandBuiltModel() {
  CompressedModel model;
  model.set_format_version(serialization::kModelFileVersion);
  model.set_method("diffq");
  (*model.mutable_method_options())["min_size"] = "0";
  (*model.mutable_method_options())["group_size"] = "4";
  model.mutable_model()->set_name("resnet20");
  model.mutable_model()->set_in_channels(1);
  model.mutable_model()->set_num_classes(10);
  model.set_dataset("fashion_mnist");
  (*model.mutable_metrics())["test_accuracy"] = 0.9;

  // Two groups of 4 values at 2 and 4 bits: 3 bits per value on average.
  quant::UniformLayout layout;
  layout.bit_group_size = 4;
  const at::Tensor widths = at::tensor({2, 4}, at::kLong);
  const at::Tensor conv = at::linspace(-1, 1, 8).view({2, 4});
  *model.add_tensors() = Shaped("layer.conv.weight", {2, 4});
  *model.mutable_tensors(0)->mutable_uniform() = quant::EncodeUniform(
      quant::UniformQuantize(conv, widths, layout, quant::Rounding::kHalfToEven), widths, layout);

  *model.add_tensors() = Shaped("lsq.weight", {2, 3});
  *model.mutable_tensors(1)->mutable_uniform() = quant::EncodeUniformStep(
      at::arange(6, at::kInt).view({2, 3}), /*bits=*/3, /*zero_level=*/4, /*step=*/0.125f);

  // A (4, 8) linear weight in 8 blocks of 4 values, 4 centroids: 2-bit assignments.
  absl::StatusOr<CompressedTensor> codebook = vq::EncodeCodebook(
      "fc.weight", {4, 8}, at::arange(16, at::kFloat).view({4, 4}) * 0.25,
      at::tensor({0, 1, 2, 3, 3, 2, 1, 0}, at::kLong));
  EXPECT_THAT(codebook, IsOk());
  *model.add_tensors() = *codebook;

  const at::Tensor bias = at::tensor({-0.5f, 0.1f, 0.2f, 0.5f});
  const quant::BucketScaling scaling = quant::LinearBucketScaling(bias, 0);
  const at::Tensor points = at::tensor({0.f, 1.f / 3, 2.f / 3, 1.f});
  *model.add_tensors() = Shaped("fc.bias", {4});
  *model.mutable_tensors(3)->mutable_learned_points() = quant::EncodeLearnedPoints(
      quant::NearestPoint(quant::ScaleDown(bias, scaling), points), points, scaling);

  *model.add_tensors() = serialization::EncodePassthrough(
      "bn.running_var", at::tensor({1.f, 0.5f, 2.f, 0.25f}), serialization::FLOAT16);
  *model.add_tensors() = serialization::EncodePassthrough(
      "bn.weight", at::tensor({1.f, 2.f, 3.f, 4.f}), serialization::FLOAT32);
  *model.add_tensors() = serialization::EncodePassthrough(
      "bn.num_batches_tracked", at::scalar_tensor(30, at::kLong), serialization::INT64);
  return model;
}

std::string TempFile(const std::string& name) { return ::testing::TempDir() + name; }

// Tests that every encoding is described by its shape, stored bits per value, codebook and
// record size, and that the totals add up.
TEST(ModelInspectionTest, DescribesEveryEncoding) {
  const CompressedModel model = HandBuiltModel();
  absl::StatusOr<ModelInspection> inspection = InspectModel(model);
  ASSERT_THAT(inspection, IsOk());
  const std::vector<TensorInspection>& rows = inspection->tensors;
  ASSERT_EQ(rows.size(), 7u);
  struct Expected {
    const char* encoding;
    std::vector<int64_t> shape;
    int64_t values;
    double bits;
    int64_t codebook_size;
    int64_t block_size;
  };
  const std::vector<Expected> expected = {
      {"uniform", {2, 4}, 8, 3, 0, 0},
      {"uniform_step", {2, 3}, 6, 3, 0, 0},
      {"codebook", {4, 8}, 32, 0.5, 4, 4},
      {"learned_points", {4}, 4, 2, 4, 0},
      {"passthrough_float16", {4}, 4, 16, 0, 0},
      {"passthrough_float32", {4}, 4, 32, 0, 0},
      {"passthrough_int64", {}, 1, 64, 0, 0},
  };
  int64_t record_bytes = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(rows[i].name);
    EXPECT_EQ(rows[i].name, model.tensors(i).name());
    EXPECT_EQ(rows[i].encoding, expected[i].encoding);
    EXPECT_EQ(rows[i].shape, expected[i].shape);
    EXPECT_EQ(rows[i].values, expected[i].values);
    EXPECT_DOUBLE_EQ(rows[i].bits, expected[i].bits);
    EXPECT_EQ(rows[i].codebook_size, expected[i].codebook_size);
    EXPECT_EQ(rows[i].block_size, expected[i].block_size);
    EXPECT_EQ(rows[i].bytes, static_cast<int64_t>(model.tensors(i).ByteSizeLong()));
    record_bytes += rows[i].bytes;
  }
  // bn.weight: name 2 + 9, shape 2 + 1, passthrough 2 + (dtype 2 + data 2 + 16).
  EXPECT_EQ(rows[5].bytes, 36);
  // bn.num_batches_tracked: name 2 + 22, no shape, passthrough 2 + (dtype 2 + data 2 + 8).
  EXPECT_EQ(rows[6].bytes, 38);
  EXPECT_EQ(inspection->values, 59);
  EXPECT_EQ(inspection->float32_bytes(), 236);
  EXPECT_EQ(inspection->tensor_bytes, record_bytes);
}

// Tests the printed report: the model's description, one row per tensor, totals per encoding
// and the compression ratio against the file size.
TEST(ModelInspectionTest, FormatsReport) {
  const CompressedModel model = HandBuiltModel();
  absl::StatusOr<ModelInspection> inspection = InspectModel(model);
  ASSERT_THAT(inspection, IsOk());
  const std::string report = FormatInspection(model, *inspection, /*file_bytes=*/118);
  EXPECT_THAT(report, HasSubstr("format version: 1\n"));
  EXPECT_THAT(report, HasSubstr("method: diffq\n"));
  EXPECT_THAT(report, HasSubstr("method options: group_size=4, min_size=0\n"));
  EXPECT_THAT(report,
              HasSubstr("architecture: name: \"resnet20\" in_channels: 1 num_classes: 10\n"));
  EXPECT_THAT(report, HasSubstr("dataset: fashion_mnist\n"));
  EXPECT_THAT(report, HasSubstr("metrics: test_accuracy=0.9\n"));
  EXPECT_THAT(report, ContainsRegex("\nname +shape +encoding +bits +codebook +bytes\n"));
  EXPECT_THAT(report, ContainsRegex("\nlayer\\.conv\\.weight +2x4 +uniform +3 +- +[0-9]+\n"));
  EXPECT_THAT(report, ContainsRegex("\nfc\\.weight +4x8 +codebook +0\\.5 +4x4 +[0-9]+\n"));
  EXPECT_THAT(report, ContainsRegex("\nfc\\.bias +4 +learned_points +2 +4 +[0-9]+\n"));
  EXPECT_THAT(report, ContainsRegex("\nbn\\.weight +4 +passthrough_float32 +32 +- +36\n"));
  EXPECT_THAT(report,
              ContainsRegex("\nbn\\.num_batches_tracked +scalar +passthrough_int64 +64 +- +38\n"));
  EXPECT_THAT(report, ContainsRegex("\n +passthrough_float32 +1 tensors +4 values +36 bytes +72\\.00 "
                                    "bits per value\n"));
  EXPECT_THAT(report, HasSubstr(absl::StrCat("total: 7 tensors, 59 values, ",
                                             inspection->tensor_bytes,
                                             " bytes of tensor records, 118 bytes of file\n")));
  EXPECT_THAT(report, HasSubstr("float32 size: 236 bytes; compression ratio (float32 / file): "
                                "2.000; 16.000 bits per value in the file\n"));
}

// Tests that what a model does not record is said to be missing.
TEST(ModelInspectionTest, SaysWhatIsNotRecorded) {
  CompressedModel model;
  *model.add_tensors() =
      serialization::EncodePassthrough("w", at::ones({2}), serialization::FLOAT32);
  absl::StatusOr<ModelInspection> inspection = InspectModel(model);
  ASSERT_THAT(inspection, IsOk());
  const std::string report = FormatInspection(model, *inspection, 40);
  EXPECT_THAT(report, HasSubstr("method: not recorded\nmethod options: none\n"
                                "architecture: not recorded\ndataset: not recorded\n"
                                "metrics: none\n"));
}

// Tests that a tensor without an encoding and a uniform tensor whose width table does not fit
// its groups are refused by name.
TEST(ModelInspectionTest, RefusesBrokenTensorsByName) {
  CompressedModel missing = HandBuiltModel();
  missing.mutable_tensors(3)->clear_encoding();
  EXPECT_THAT(InspectModel(missing),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("tensor fc.bias has no encoding")));

  CompressedModel widths = HandBuiltModel();
  widths.mutable_tensors(0)->mutable_uniform()->mutable_group_bits()->append("\x01\x02");
  EXPECT_THAT(InspectModel(widths), StatusIs(absl::StatusCode::kDataLoss,
                                             HasSubstr("tensor layer.conv.weight: width table")));
}

// Tests that a model file is reported with its checksum and decoding status, and that the
// exported state dict, read back with torch::pickle_load, holds exactly the decoder's tensors.
TEST(ModelInspectionTest, InspectsFileAndExportsDecodedTensors) {
  const CompressedModel model = HandBuiltModel();
  const std::string path = TempFile("inspected.mcm");
  const std::string export_path = TempFile("inspected.pt");
  ASSERT_THAT(serialization::WriteModelFile(path, model), IsOk());
  const int64_t file_bytes =
      static_cast<int64_t>(serialization::ReadFileToString(path)->size());
  std::ostringstream out;
  ASSERT_THAT(InspectModelFile(path, InspectionExports{export_path, ""}, out), IsOk());
  EXPECT_THAT(out.str(), HasSubstr(absl::StrCat("file: ", path, " (", file_bytes, " bytes)\n",
                                                "checksum: OK (CRC-32 of the ", file_bytes - 24,
                                                " payload bytes matches the header)\n",
                                                "decoding: OK (all 7 tensors)\n")));
  EXPECT_THAT(out.str(), HasSubstr(absl::StrCat(file_bytes, " bytes of file\n")));
  EXPECT_THAT(out.str(), HasSubstr(absl::StrCat("exported: ", export_path,
                                                " (7 tensors: 6 float32, 1 int64)\n")));

  absl::StatusOr<serialization::StateDict> decoded = model_io::DecodeCompressedModel(model);
  ASSERT_THAT(decoded, IsOk());
  absl::StatusOr<std::string> bytes = serialization::ReadFileToString(export_path);
  ASSERT_THAT(bytes, IsOk());
  const c10::IValue loaded =
      torch::jit::pickle_load(std::vector<char>(bytes->begin(), bytes->end()));
  ASSERT_TRUE(loaded.isGenericDict());
  const c10::Dict<c10::IValue, c10::IValue> dict = loaded.toGenericDict();
  ASSERT_EQ(dict.size(), decoded->size());
  size_t i = 0;
  for (const auto& entry : dict) {
    const auto& [name, expected] = (*decoded)[i++];
    SCOPED_TRACE(name);
    EXPECT_EQ(entry.key().toStringRef(), name);
    const at::Tensor tensor = entry.value().toTensor();
    EXPECT_EQ(tensor.scalar_type(), expected.scalar_type());
    EXPECT_TRUE(at::equal(tensor, expected));
  }
  // The values themselves, for two encodings: (level - zero_level) * step, and row 0 of the
  // codebook weight, blocks 0 and 1 of output 0 (assignments 0 and 3).
  EXPECT_TRUE(at::equal((*decoded)[1].second,
                        (at::arange(6, at::kFloat).view({2, 3}) - 4) * 0.125));
  EXPECT_TRUE(at::equal((*decoded)[2].second[0],
                        at::tensor({0.f, 0.25f, 0.5f, 0.75f, 3.f, 3.25f, 3.5f, 3.75f})));
}

// Tests that a file whose checksum fails is refused before anything is printed or exported.
TEST(ModelInspectionTest, RefusesCorruptFile) {
  std::string bytes = serialization::EncodeModelFile(HandBuiltModel());
  bytes.back() ^= 0x40;
  const std::string path = TempFile("corrupt.mcm");
  const std::string export_path = TempFile("corrupt.pt");
  ASSERT_THAT(serialization::WriteFileAtomically(path, bytes), IsOk());
  std::ostringstream out;
  EXPECT_THAT(InspectModelFile(path, InspectionExports{export_path, ""}, out),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt model file (CRC-32")));
  EXPECT_EQ(out.str(), "");
  EXPECT_THAT(serialization::ReadFileToString(export_path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("corrupt.pt")));
}

// Tests that a file with a valid checksum but a tensor that does not decode is refused by the
// tensor's name, and that a missing file is kNotFound.
TEST(ModelInspectionTest, RefusesUndecodableTensorAndMissingFile) {
  CompressedModel model = HandBuiltModel();
  model.mutable_tensors(2)->mutable_codebook()->mutable_assignments()->pop_back();
  const std::string path = TempFile("undecodable.mcm");
  ASSERT_THAT(serialization::WriteModelFile(path, model), IsOk());
  std::ostringstream out;
  EXPECT_THAT(InspectModelFile(path, {}, out),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("fc.weight")));
  EXPECT_EQ(out.str(), "");
  EXPECT_THAT(InspectModelFile(TempFile("no_such.mcm"), {}, out),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such.mcm")));
}

// Tests that a model written in Python comes back as TorchScript with the file's tensors,
// and that --export_torchscript of a zoo model is refused without writing anything.
TEST(ModelInspectionTest, ExportsAScriptedModelAsTorchScriptWithTheFilesTensors) {
  MC_ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<nn_models::ScriptedModelImpl> script,
      nn_models::ScriptedModelImpl::Load("nn_models/testdata/scripted_residual_gelu.pt"));
  CompressedModel model;
  model.set_format_version(serialization::kModelFileVersion);
  model.set_method("float");
  model.mutable_model()->set_name("residual_gelu");
  model.mutable_model()->set_torchscript_code(script->SaveCodeArchive());
  for (const auto& parameter : script->named_parameters()) {
    *model.add_tensors() = serialization::EncodePassthrough(
        parameter.key(), parameter.value().detach() * 2, serialization::FLOAT32);
  }
  for (const auto& buffer : script->named_buffers()) {
    *model.add_tensors() = serialization::EncodePassthrough(
        buffer.key(), buffer.value(),
        buffer.value().is_floating_point() ? serialization::FLOAT32 : serialization::INT64);
  }
  const std::string path = TempFile("scripted.mcm");
  const std::string export_path = TempFile("scripted_export.pt");
  ASSERT_THAT(serialization::WriteModelFile(path, model), IsOk());
  std::ostringstream out;
  ASSERT_THAT(InspectModelFile(path, InspectionExports{"", export_path}, out), IsOk());
  EXPECT_THAT(out.str(), HasSubstr("name: \"residual_gelu\", written in Python (TorchScript code, "));
  EXPECT_THAT(out.str(), HasSubstr(absl::StrCat("exported: ", export_path, " (TorchScript)\n")));

  MC_ASSERT_OK_AND_ASSIGN(std::shared_ptr<nn_models::ScriptedModelImpl> exported,
                          nn_models::ScriptedModelImpl::Load(export_path));
  auto originals = script->named_parameters();
  for (const auto& parameter : exported->named_parameters()) {
    SCOPED_TRACE(parameter.key());
    EXPECT_TRUE(at::equal(parameter.value(), originals[parameter.key()] * 2));
  }

  const std::string zoo_path = TempFile("zoo.mcm");
  const std::string zoo_export = TempFile("zoo_export.pt");
  ASSERT_THAT(serialization::WriteModelFile(zoo_path, HandBuiltModel()), IsOk());
  std::ostringstream zoo_out;
  EXPECT_THAT(InspectModelFile(zoo_path, InspectionExports{"", zoo_export}, zoo_out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("resnet20"), HasSubstr("not TorchScript code"))));
  EXPECT_EQ(zoo_out.str(), "");
  EXPECT_THAT(serialization::ReadFileToString(zoo_export), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mc::model_io
