// Tests of ReadPyTorchStateDict on files written by Python's torch.save. The files in testdata/
// come from tools/make_pytorch_testdata.py (Debian's torch 1.13), whose docstring lists what
// each holds; the damaged archives are derived from them here. WritePyTorchStateDict is
// checked against LibTorch's own reader, torch::pickle_load.
#include "serialization/pytorch_state_dict.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/tensor.h>
#include <caffe2/serialize/inline_container.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"

namespace mc::serialization {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TestFile(const std::string& name) { return "serialization/testdata/" + name; }

std::string TempFile(const std::string& name) { return ::testing::TempDir() + name; }

std::string ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// The records of a torch.save archive by name ("data.pkl", "data/0", ...), without "version".
using Records = std::map<std::string, std::string>;

Records ReadRecords(const std::string& path) {
  caffe2::serialize::PyTorchStreamReader reader(path);
  Records records;
  for (const std::string& name : reader.getAllRecords()) {
    if (name == "version") continue;
    auto [data, size] = reader.getRecord(name);
    records[name] = std::string(static_cast<const char*>(data.get()), size);
  }
  return records;
}

// Writes `records` as a torch.save archive (the writer adds "version") and returns its path.
std::string WriteArchive(const std::string& name, const Records& records) {
  const std::string path = TempFile(name);
  caffe2::serialize::PyTorchStreamWriter writer(path);
  for (const auto& [record, bytes] : records)
    writer.writeRecord(record, bytes.data(), bytes.size());
  writer.writeEndOfFile();
  return path;
}

// Expects `actual` to hold the entries of `expected` in order, with their dtypes, sizes and values.
void ExpectSameStateDict(const StateDict& actual, const StateDict& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].first);
    EXPECT_EQ(actual[i].first, expected[i].first);
    EXPECT_EQ(actual[i].second.scalar_type(), expected[i].second.scalar_type());
    EXPECT_EQ(actual[i].second.sizes(), expected[i].second.sizes());
    EXPECT_TRUE(at::equal(actual[i].second, expected[i].second));
  }
}

std::vector<std::string> Names(const StateDict& state_dict) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : state_dict) names.push_back(name);
  return names;
}

// Tests that model.state_dict() (an OrderedDict with _metadata) reads with its names in file
// order, shapes, dtypes and values: entry i holds arange(numel) * 0.25 + i.
TEST(PyTorchStateDictTest, ReadsModelStateDict) {
  MC_ASSERT_OK_AND_ASSIGN(const StateDict state_dict,
                          ReadPyTorchStateDict(TestFile("tiny_net_state_dict.pt")));
  ASSERT_THAT(Names(state_dict),
              ElementsAre("conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                          "bn.running_var", "bn.num_batches_tracked", "fc.weight", "fc.bias"));
  const std::vector<std::vector<int64_t>> sizes = {{2, 1, 3, 3}, {2}, {2},    {2}, {2},
                                                   {2},          {},  {3, 8}, {3}};
  for (size_t i = 0; i < state_dict.size(); ++i) {
    const auto& [name, tensor] = state_dict[i];
    SCOPED_TRACE(name);
    EXPECT_EQ(tensor.sizes().vec(), sizes[i]);
    EXPECT_FALSE(tensor.requires_grad());
    if (name == "bn.num_batches_tracked") {
      EXPECT_EQ(tensor.scalar_type(), at::kLong);
      EXPECT_EQ(tensor.item<int64_t>(), 7);
    } else {
      EXPECT_EQ(tensor.scalar_type(), at::kFloat);
      at::Tensor expected = at::arange(tensor.numel(), at::kFloat) * 0.25 + static_cast<double>(i);
      EXPECT_TRUE(at::equal(tensor, expected.view(sizes[i])));
    }
  }
}

// Tests that pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE) reads the
// same tensors as protocol 2.
TEST(PyTorchStateDictTest, ReadsProtocol4LikeProtocol2) {
  MC_ASSERT_OK_AND_ASSIGN(const StateDict protocol2,
                          ReadPyTorchStateDict(TestFile("tiny_net_state_dict.pt")));
  MC_ASSERT_OK_AND_ASSIGN(const StateDict protocol4,
                          ReadPyTorchStateDict(TestFile("tiny_net_state_dict_protocol4.pt")));
  ASSERT_EQ(Names(protocol4), Names(protocol2));
  for (size_t i = 0; i < protocol2.size(); ++i) {
    EXPECT_TRUE(at::equal(protocol4[i].second, protocol2[i].second)) << protocol2[i].first;
  }
}

// Tests that a plain dict reads, with every supported dtype: each entry is
// (arange(6) - 2).to(dtype) in shape (2, 3), so uint8 holds 254 and 255 and bool one false.
TEST(PyTorchStateDictTest, ReadsEveryDtypeFromPlainDict) {
  MC_ASSERT_OK_AND_ASSIGN(const StateDict state_dict,
                          ReadPyTorchStateDict(TestFile("dtypes_plain_dict.pt")));
  const std::map<std::string, at::ScalarType> dtypes = {
      {"float32", at::kFloat},     {"float64", at::kDouble}, {"float16", at::kHalf},
      {"bfloat16", at::kBFloat16}, {"int64", at::kLong},     {"int32", at::kInt},
      {"int16", at::kShort},       {"int8", at::kChar},      {"uint8", at::kByte},
      {"bool", at::kBool}};
  size_t checked = 0;
  for (const auto& [name, tensor] : state_dict) {
    auto dtype = dtypes.find(name);
    if (dtype == dtypes.end()) continue;
    SCOPED_TRACE(name);
    EXPECT_EQ(tensor.scalar_type(), dtype->second);
    EXPECT_TRUE(at::equal(tensor, (at::arange(6) - 2).to(dtype->second).view({2, 3})));
    ++checked;
  }
  EXPECT_EQ(checked, dtypes.size());
}

// Tests that views keep their offset, sizes and strides, and share their storage as in Python.
TEST(PyTorchStateDictTest, ReadsViewsOfSharedStorage) {
  MC_ASSERT_OK_AND_ASSIGN(const StateDict state_dict,
                          ReadPyTorchStateDict(TestFile("dtypes_plain_dict.pt")));
  std::map<std::string, at::Tensor> tensors(state_dict.begin(), state_dict.end());
  const at::Tensor& whole = tensors.at("shared.whole");
  const at::Tensor& transposed = tensors.at("shared.transposed");
  const at::Tensor& strided = tensors.at("shared.strided");
  EXPECT_TRUE(at::equal(whole, at::arange(24, at::kFloat)));

  EXPECT_EQ(transposed.sizes().vec(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(transposed.strides().vec(), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(transposed.storage_offset(), 4);
  EXPECT_TRUE(at::equal(transposed, whole.slice(0, 4, 16).view({3, 4}).t()));
  EXPECT_TRUE(transposed.is_alias_of(whole));

  EXPECT_EQ(strided.sizes().vec(), std::vector<int64_t>{5});
  EXPECT_EQ(strided.strides().vec(), std::vector<int64_t>{5});
  EXPECT_EQ(strided.storage_offset(), 1);
  EXPECT_TRUE(at::equal(strided, whole.slice(0, 1, 24, 5)));
  EXPECT_TRUE(strided.is_alias_of(whole));

  EXPECT_EQ(tensors.at("empty").sizes().vec(), (std::vector<int64_t>{0, 3}));
}

// Tests that nn.Parameter values (torch._utils._rebuild_parameter) read as plain tensors.
TEST(PyTorchStateDictTest, ReadsParameters) {
  MC_ASSERT_OK_AND_ASSIGN(const StateDict state_dict,
                          ReadPyTorchStateDict(TestFile("linear_parameters.pt")));
  ASSERT_THAT(Names(state_dict), ElementsAre("weight", "bias"));
  const at::Tensor& weight = state_dict[0].second;
  const at::Tensor& bias = state_dict[1].second;
  EXPECT_TRUE(at::equal(weight, at::arange(4, at::kFloat).view({2, 2}) * 0.25));
  EXPECT_TRUE(at::equal(bias, at::arange(2, at::kFloat) * 0.25 + 1.0));
  EXPECT_FALSE(weight.requires_grad());
}

// Tests that the OrderedDict's _metadata is skipped whatever it holds (lists, floats, None).
TEST(PyTorchStateDictTest, SkipsMetadata) {
  MC_ASSERT_OK_AND_ASSIGN(const StateDict state_dict,
                          ReadPyTorchStateDict(TestFile("metadata.pt")));
  ASSERT_THAT(Names(state_dict), ElementsAre("w"));
  EXPECT_TRUE(at::equal(state_dict[0].second, at::arange(3, at::kFloat)));
}

// Tests that ints of every pickled width (BININT1, BININT2, BININT, LONG1) read exactly: "w" is
// a (1, 1) view at offset 299 with strides (2^40, 70000) of arange(300).
TEST(PyTorchStateDictTest, ReadsLargeIntegers) {
  MC_ASSERT_OK_AND_ASSIGN(const StateDict state_dict,
                          ReadPyTorchStateDict(TestFile("large_ints.pt")));
  ASSERT_THAT(Names(state_dict), ElementsAre("w"));
  const at::Tensor& w = state_dict[0].second;
  EXPECT_EQ(w.sizes().vec(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(w.strides().vec(), (std::vector<int64_t>{int64_t{1} << 40, 70000}));
  EXPECT_EQ(w.storage_offset(), 299);
  EXPECT_EQ(w.item<float>(), 299.0f);
}

// Tests that a missing file is kNotFound.
TEST(PyTorchStateDictTest, MissingFileIsNotFound) {
  EXPECT_THAT(
      ReadPyTorchStateDict(TestFile("no_such_file.pt")),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_file.pt: cannot open file")));
}

// Tests that a file that is not a zip archive is rejected as such.
TEST(PyTorchStateDictTest, RejectsFileThatIsNotZip) {
  const std::string path = TempFile("text.pt");
  WriteBytes(path, "conv.weight 1 2 3\n");
  EXPECT_THAT(ReadPyTorchStateDict(path), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("text.pt: not a zip archive")));
}

// Tests that the pre-1.6 torch.save format is recognised and named.
TEST(PyTorchStateDictTest, RejectsLegacyFormat) {
  EXPECT_THAT(ReadPyTorchStateDict(TestFile("legacy_format.pt")),
              StatusIs(absl::StatusCode::kUnimplemented,
                       HasSubstr("legacy torch.save format, re-save with torch>=1.6")));
}

// Tests that every truncation of a valid file is an error, never a crash or a partial result.
TEST(PyTorchStateDictTest, RejectsEveryTruncationOfFile) {
  const std::string bytes = ReadBytes(TestFile("linear_parameters.pt"));
  ASSERT_GT(bytes.size(), 1000u);
  const std::string path = TempFile("truncated.pt");
  for (size_t length = 0; length < bytes.size(); ++length) {
    WriteBytes(path, bytes.substr(0, length));
    // Four bytes are enough to recognise a zip archive.
    ASSERT_THAT(ReadPyTorchStateDict(path), StatusIs(length < 4 ? absl::StatusCode::kInvalidArgument
                                                                : absl::StatusCode::kDataLoss))
        << "length " << length;
  }
}

// Tests that every single-byte corruption of a valid file gives a result or an error naming the
// file, never a crash. (Zip records carry no checked CRC, so corrupt tensor bytes read as data,
// as in Python.)
TEST(PyTorchStateDictTest, SurvivesEveryByteCorruption) {
  const std::string bytes = ReadBytes(TestFile("tiny_net_state_dict.pt"));
  const std::string path = TempFile("corrupted.pt");
  int errors = 0;
  for (size_t position = 0; position < bytes.size(); ++position) {
    std::string corrupted = bytes;
    corrupted[position] ^= '\xff';
    WriteBytes(path, corrupted);
    absl::StatusOr<StateDict> result = ReadPyTorchStateDict(path);
    if (result.ok()) continue;
    ++errors;
    ASSERT_THAT(std::string(result.status().message()), ::testing::StartsWith(path + ": "))
        << "byte " << position;
  }
  EXPECT_GT(errors, 0);
}

// Tests that every truncation of data.pkl inside a valid archive is kDataLoss.
TEST(PyTorchStateDictTest, RejectsEveryTruncationOfPickle) {
  Records records = ReadRecords(TestFile("tiny_net_state_dict.pt"));
  const std::string pickle = records.at("data.pkl");
  for (size_t length = 0; length < pickle.size(); ++length) {
    records["data.pkl"] = pickle.substr(0, length);
    ASSERT_THAT(ReadPyTorchStateDict(WriteArchive("truncated_pickle.pt", records)),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("data.pkl")))
        << "length " << length;
  }
}

// Tests that a byte that is no pickle opcode is reported as corrupt, with its offset.
TEST(PyTorchStateDictTest, RejectsCorruptPickle) {
  // PROTO 2, EMPTY_DICT, 0xff, STOP.
  const std::string path = WriteArchive("corrupt_pickle.pt", {{"data.pkl", "\x80\x02}\xff."}});
  EXPECT_THAT(ReadPyTorchStateDict(path),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("data.pkl byte 3 (0xff): corrupt pickle: not an opcode")));
}

// Tests that a real pickle opcode outside the supported subset is named.
TEST(PyTorchStateDictTest, RejectsUnsupportedOpcode) {
  // PROTO 3, SHORT_BINBYTES of length 0, STOP.
  const std::string pickle = {'\x80', '\x03', 'C', '\0', '.'};
  const std::string path = WriteArchive("bytes_pickle.pt", {{"data.pkl", pickle}});
  EXPECT_THAT(ReadPyTorchStateDict(path),
              StatusIs(absl::StatusCode::kUnimplemented,
                       HasSubstr("data.pkl byte 2 (SHORT_BINBYTES): unsupported pickle opcode")));
}

// Tests that deeply nested containers are rejected: destroying a million nested tuples would
// overflow the call stack.
TEST(PyTorchStateDictTest, RejectsDeepNesting) {
  // PROTO 2, EMPTY_TUPLE, TUPLE1 a million times, STOP.
  const std::string pickle = "\x80\x02)" + std::string(1000000, '\x85') + ".";
  EXPECT_THAT(ReadPyTorchStateDict(WriteArchive("deep.pt", {{"data.pkl", pickle}})),
              StatusIs(absl::StatusCode::kUnimplemented,
                       HasSubstr("containers nested more than 32 levels deep")));
}

// Tests that torch.save(model), a pickled Python object, is rejected naming its class.
TEST(PyTorchStateDictTest, RejectsUnsupportedGlobal) {
  EXPECT_THAT(
      ReadPyTorchStateDict(TestFile("whole_module.pt")),
      StatusIs(absl::StatusCode::kUnimplemented,
               HasSubstr("unsupported global '__main__.TinyNet': the file holds Python objects")));
}

// Tests that a storage of an unsupported dtype is rejected naming its class.
TEST(PyTorchStateDictTest, RejectsUnsupportedDtype) {
  EXPECT_THAT(
      ReadPyTorchStateDict(TestFile("complex_dtype.pt")),
      StatusIs(
          absl::StatusCode::kUnimplemented,
          HasSubstr("unsupported global 'torch.ComplexFloatStorage': tensors of its dtype are not "
                    "supported")));
}

// Tests that a dict with a value other than a tensor is rejected naming the entry.
TEST(PyTorchStateDictTest, RejectsEntryThatIsNotTensor) {
  EXPECT_THAT(ReadPyTorchStateDict(TestFile("not_a_tensor.pt")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry 'lr' has type float, not tensor")));
}

// Tests that a file holding a single tensor is rejected.
TEST(PyTorchStateDictTest, RejectsTopLevelTensor) {
  EXPECT_THAT(ReadPyTorchStateDict(TestFile("top_level_tensor.pt")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("top-level object has type tensor, not a dict of tensors")));
}

// Tests that a view reaching past the end of its storage is rejected, not read out of bounds.
TEST(PyTorchStateDictTest, RejectsViewPastEndOfStorage) {
  EXPECT_THAT(
      ReadPyTorchStateDict(TestFile("view_out_of_bounds.pt")),
      StatusIs(
          absl::StatusCode::kDataLoss,
          HasSubstr("view (offset 2, sizes [2, 3], strides [3, 1]) reaches past the end of its "
                    "6-element storage")));
}

// Tests that a storage record missing from the archive is named.
TEST(PyTorchStateDictTest, RejectsMissingStorageRecord) {
  Records records = ReadRecords(TestFile("tiny_net_state_dict.pt"));
  ASSERT_EQ(records.erase("data/3"), 1u);
  EXPECT_THAT(
      ReadPyTorchStateDict(WriteArchive("missing_record.pt", records)),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("archive has no storage record 'data/3'")));
}

// Tests that a storage record shorter than its declared size is rejected.
TEST(PyTorchStateDictTest, RejectsShortStorageRecord) {
  Records records = ReadRecords(TestFile("tiny_net_state_dict.pt"));
  records["data/0"].resize(4);
  EXPECT_THAT(ReadPyTorchStateDict(WriteArchive("short_record.pt", records)),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("storage record 'data/0' has 4 bytes, expected 72")));
}

// Tests that archives declaring big-endian storages (torch >= 2.1 writes "byteorder") are
// rejected rather than read with swapped bytes.
TEST(PyTorchStateDictTest, RejectsBigEndianStorages) {
  Records records = ReadRecords(TestFile("tiny_net_state_dict.pt"));
  records["byteorder"] = "big";
  EXPECT_THAT(ReadPyTorchStateDict(WriteArchive("big_endian.pt", records)),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("storages are 'big' endian")));
}

// Tests that a written state dict reads back with torch::pickle_load as a dict holding every
// entry in order with its dtype, sizes and values, including a transposed (non-contiguous)
// view and a 0-d int64 tensor.
TEST(PyTorchStateDictTest, WrittenStateDictReadsBackWithPickleLoad) {
  const at::Tensor matrix = at::arange(6, at::kFloat).view({2, 3}) * 0.5 - 1;
  const StateDict state = {{"fc.weight", matrix.t()},
                           {"fc.bias", at::tensor({0.25f, -3.5f, 1e-8f})},
                           {"bn.num_batches_tracked", at::scalar_tensor(7, at::kLong)}};
  const std::string path = TempFile("written_state_dict.pt");
  ASSERT_THAT(WritePyTorchStateDict(path, state), IsOk());

  const std::string bytes = ReadBytes(path);
  const c10::IValue loaded = torch::jit::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  ASSERT_TRUE(loaded.isGenericDict());
  StateDict loaded_state;
  for (const auto& entry : loaded.toGenericDict()) {
    loaded_state.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
  }
  ExpectSameStateDict(loaded_state, state);

  // Our own reader takes it too (LibTorch tags the dict with restore_type_tag).
  MC_ASSERT_OK_AND_ASSIGN(const StateDict read, ReadPyTorchStateDict(path));
  ExpectSameStateDict(read, state);
}

// Tests that a repeated name and an undefined tensor are refused by name, and nothing is written.
TEST(PyTorchStateDictTest, WriteRefusesRepeatedNameAndUndefinedTensor) {
  const std::string path = TempFile("refused_state_dict.pt");
  EXPECT_THAT(
      WritePyTorchStateDict(path, {{"fc.bias", at::tensor({1.f})}, {"fc.bias", at::tensor({2.f})}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'fc.bias' appears more than once")));
  EXPECT_THAT(WritePyTorchStateDict(path, {{"fc.weight", at::Tensor()}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'fc.weight' is an undefined tensor")));
  EXPECT_TRUE(ReadBytes(path).empty());
}

// Tests that writing into a missing directory is kNotFound.
TEST(PyTorchStateDictTest, WriteIntoMissingDirectoryIsNotFound) {
  EXPECT_THAT(WritePyTorchStateDict(TempFile("no_such_dir/state.pt"), {{"b", at::tensor({1.f})}}),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mc::serialization
