#include "serialization/pytorch_state_dict.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/ScalarType.h>
#include <c10/core/Storage.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "serialization/atomic_file.h"

// Storage records hold raw little-endian values that become tensor memory without conversion,
// which is right on every platform LibTorch's Debian package is built for.

namespace mc::serialization {
namespace {

// ---------------------------------------------------------------------------------------------
// Values on the pickle machine's stack and in its memo.

// A Python None.
struct None {};

// A Python callable that REDUCE may apply.
enum class Callable { kOrderedDict, kRebuildTensorV2, kRebuildParameter, kRestoreTypeTag };

// A typed storage class such as `torch.FloatStorage`, naming the dtype of a storage record.
struct StorageClass {
  at::ScalarType dtype;
};

// A storage record of the archive, loaded into memory.
struct TypedStorage {
  at::ScalarType dtype;
  c10::Storage storage;
};

struct Tuple;
struct List;
struct Dict;

using Value = std::variant<None, bool, int64_t, double, std::string, std::shared_ptr<const Tuple>,
                           std::shared_ptr<List>, std::shared_ptr<Dict>, Callable, StorageClass,
                           TypedStorage, at::Tensor>;

// Python type names of the alternatives of Value, in order, for error messages.
constexpr const char* kValueTypeNames[] = {"None",     "bool",          "int",     "float",
                                           "str",      "tuple",         "list",    "dict",
                                           "callable", "storage class", "storage", "tensor"};
static_assert(std::size(kValueTypeNames) == std::variant_size_v<Value>);

// Containers know how deeply they nest: destroying a nested structure recurses once per level,
// so a crafted pickle of a million nested tuples would overflow the call stack. A state dict
// nests 3 levels deep (OrderedDict, _metadata, version dicts; tensor arguments).
constexpr int kMaxNestingDepth = 32;

struct Tuple {
  std::vector<Value> items;
  int depth = 1;
};

// A list or dict may change only until it is put into another container, so that the depth
// recorded there stays exact (torch.save fills each container before nesting it).
struct List {
  std::vector<Value> items;
  int depth = 1;
  bool nested = false;
};

// A dict or collections.OrderedDict with str keys (the only keys a state dict has), in
// insertion order.
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  std::unordered_set<std::string> keys;
  int depth = 1;
  bool nested = false;
};

const char* TypeName(const Value& value) { return kValueTypeNames[value.index()]; }

template <typename T>
const char* TypeName() {
  return TypeName(Value(std::in_place_type<T>));
}

// Returns the `T` in `value`; `what` names the value in the error otherwise.
template <typename T>
absl::StatusOr<T> Get(const Value& value, absl::string_view what) {
  if (const T* typed = std::get_if<T>(&value)) return *typed;
  return absl::DataLossError(
      absl::StrCat(what, " has type ", TypeName(value), ", expected ", TypeName<T>()));
}

// Returns the ints of a tuple such as a tensor's sizes.
absl::StatusOr<std::vector<int64_t>> GetInts(const Value& value, absl::string_view what) {
  MC_ASSIGN_OR_RETURN(std::shared_ptr<const Tuple> tuple,
                      Get<std::shared_ptr<const Tuple>>(value, what));
  std::vector<int64_t> ints;
  ints.reserve(tuple->items.size());
  for (const Value& item : tuple->items) {
    MC_ASSIGN_OR_RETURN(int64_t i, Get<int64_t>(item, absl::StrCat("an element of ", what)));
    ints.push_back(i);
  }
  return ints;
}

// ---------------------------------------------------------------------------------------------
// The opcodes this reader runs (Python's Lib/pickletools.py documents each one).

enum Opcode : uint8_t {
  kMark = '(',
  kStop = '.',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinFloat = 'G',
  kEmptyDict = '}',
  kProto = 0x80,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kShortBinUnicode = 0x8c,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

constexpr int kHighestPickleProtocol = 5;

// Name of every opcode of pickle protocols 0 to 5, or nullptr for a byte that is none.
const char* PickleOpcodeName(uint8_t opcode) {
  // clang-format off
  switch (opcode) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
  // clang-format on
}

// The typed storage classes of `torch` a state dict can name, with their dtypes.
constexpr std::pair<absl::string_view, at::ScalarType> kStorageClasses[] = {
    {"FloatStorage", at::kFloat},       {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
    {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong},     {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort},       {"CharStorage", at::kChar},     {"ByteStorage", at::kByte},
    {"BoolStorage", at::kBool},
};

// Resolves GLOBAL / STACK_GLOBAL: only the globals a state dict needs are known.
absl::StatusOr<Value> ResolveGlobal(absl::string_view module, absl::string_view name) {
  if (module == "collections" && name == "OrderedDict") return Callable::kOrderedDict;
  if (module == "torch._utils" && name == "_rebuild_tensor_v2") return Callable::kRebuildTensorV2;
  if (module == "torch._utils" && name == "_rebuild_parameter") return Callable::kRebuildParameter;
  if (module == "torch.jit._pickle" && name == "restore_type_tag") return Callable::kRestoreTypeTag;
  const std::string global = absl::StrCat("unsupported global '", module, ".", name, "'");
  if (module == "torch") {
    for (const auto& [class_name, dtype] : kStorageClasses) {
      if (name == class_name) return StorageClass{dtype};
    }
    if (absl::EndsWith(name, "Storage")) {
      return absl::UnimplementedError(
          absl::StrCat(global, ": tensors of its dtype are not supported"));
    }
  }
  return absl::UnimplementedError(absl::StrCat(
      global,
      ": the file holds Python objects, not only tensors (save model.state_dict(), not "
      "the model)"));
}

// Checks that the view (offset, sizes, strides) of `storage` stays inside it.
absl::Status CheckViewInStorage(const TypedStorage& storage, int64_t offset,
                                const std::vector<int64_t>& sizes,
                                const std::vector<int64_t>& strides) {
  const std::string view =
      absl::StrCat("view (offset ", offset, ", sizes [", absl::StrJoin(sizes, ", "), "], strides [",
                   absl::StrJoin(strides, ", "), "])");
  if (sizes.size() != strides.size()) {
    return absl::DataLossError(absl::StrCat("tensor ", view, " has unequal ranks"));
  }
  bool empty = false;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0 || strides[d] < 0) {
      return absl::DataLossError(absl::StrCat("tensor ", view, " has a negative size or stride"));
    }
    empty = empty || sizes[d] == 0;
  }
  if (offset < 0) {
    return absl::DataLossError(absl::StrCat("tensor ", view, " has a negative offset"));
  }
  if (empty) return absl::OkStatus();
  const int64_t storage_numel =
      static_cast<int64_t>(storage.storage.nbytes() / c10::elementSize(storage.dtype));
  int64_t last = offset;  // index of the view's last element in the storage
  for (size_t d = 0; d < sizes.size(); ++d) {
    int64_t extent;
    if (__builtin_mul_overflow(sizes[d] - 1, strides[d], &extent) ||
        __builtin_add_overflow(last, extent, &last)) {
      last = std::numeric_limits<int64_t>::max();
      break;
    }
  }
  if (last >= storage_numel) {
    return absl::DataLossError(absl::StrCat("tensor ", view, " reaches past the end of its ",
                                            storage_numel, "-element storage"));
  }
  return absl::OkStatus();
}

// torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
// backward_hooks): a view of a storage. requires_grad is dropped: state dict tensors are data.
absl::StatusOr<Value> RebuildTensor(const Tuple& args) {
  if (args.items.size() != 6) {
    return absl::UnimplementedError(absl::StrCat("torch._utils._rebuild_tensor_v2 with ",
                                                 args.items.size(), " arguments (expected 6)"));
  }
  MC_ASSIGN_OR_RETURN(TypedStorage storage, Get<TypedStorage>(args.items[0], "tensor storage"));
  MC_ASSIGN_OR_RETURN(int64_t offset, Get<int64_t>(args.items[1], "tensor storage offset"));
  MC_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, GetInts(args.items[2], "tensor size"));
  MC_ASSIGN_OR_RETURN(std::vector<int64_t> strides, GetInts(args.items[3], "tensor stride"));
  MC_RETURN_IF_ERROR(Get<bool>(args.items[4], "tensor requires_grad").status());
  MC_RETURN_IF_ERROR(Get<std::shared_ptr<Dict>>(args.items[5], "tensor backward_hooks").status());
  MC_RETURN_IF_ERROR(CheckViewInStorage(storage, offset, sizes, strides));
  at::Tensor tensor = at::empty({0}, at::TensorOptions().dtype(storage.dtype));
  tensor.set_(storage.storage, offset, sizes, strides);
  return tensor;
}

// torch._utils._rebuild_parameter(data, requires_grad, backward_hooks): an nn.Parameter, read
// as its data.
absl::StatusOr<Value> RebuildParameter(const Tuple& args) {
  if (args.items.size() != 3) {
    return absl::UnimplementedError(absl::StrCat("torch._utils._rebuild_parameter with ",
                                                 args.items.size(), " arguments (expected 3)"));
  }
  MC_ASSIGN_OR_RETURN(at::Tensor data, Get<at::Tensor>(args.items[0], "parameter data"));
  MC_RETURN_IF_ERROR(Get<bool>(args.items[1], "parameter requires_grad").status());
  MC_RETURN_IF_ERROR(
      Get<std::shared_ptr<Dict>>(args.items[2], "parameter backward_hooks").status());
  return data;
}

// Reads the storage record `data/<key>`, which must hold `nbytes` bytes. The reader copies it
// into memory from LibTorch's CPU allocator, which becomes the storage without another copy.
absl::StatusOr<c10::Storage> ReadStorageRecord(caffe2::serialize::PyTorchStreamReader& archive,
                                               const std::string& key, size_t nbytes) {
  const std::string record = "data/" + key;
  if (!archive.hasRecord(record)) {
    return absl::DataLossError(absl::StrCat("archive has no storage record '", record, "'"));
  }
  auto [data, size] = archive.getRecord(record);
  if (size != nbytes) {
    return absl::DataLossError(
        absl::StrCat("storage record '", record, "' has ", size, " bytes, expected ", nbytes));
  }
  return c10::Storage(c10::Storage::use_byte_size_t(), size, std::move(data),
                      /*allocator=*/nullptr, /*resizable=*/false);
}

// ---------------------------------------------------------------------------------------------
// The pickle machine.

// Runs the pickle program of `data.pkl`, loading storages from `archive` as BINPERSID names
// them. Reading records may throw c10::Error; ReadPyTorchStateDict converts it.
class StateDictUnpickler {
 public:
  StateDictUnpickler(absl::string_view pickle, caffe2::serialize::PyTorchStreamReader& archive)
      : pickle_(pickle), archive_(archive) {}

  // Returns the object the pickle describes.
  absl::StatusOr<Value> Run() {
    while (true) {
      const size_t opcode_offset = pos_;
      absl::StatusOr<uint8_t> opcode = ReadLittleEndian<uint8_t>();
      if (!opcode.ok()) return absl::DataLossError("data.pkl is truncated: no STOP opcode");
      if (*opcode == kStop) {
        if (stack_.size() != 1 || !marks_.empty()) {
          return absl::DataLossError(absl::StrCat("data.pkl byte ", opcode_offset, ": STOP with ",
                                                  stack_.size(), " values on the stack"));
        }
        return std::move(stack_.back());
      }
      absl::Status status = Execute(*opcode);
      if (!status.ok()) {
        return absl::Status(status.code(),
                            absl::StrCat("data.pkl byte ", opcode_offset, " (",
                                         OpcodeDescription(*opcode), "): ", status.message()));
      }
    }
  }

 private:
  static std::string OpcodeDescription(uint8_t opcode) {
    const char* name = PickleOpcodeName(opcode);
    return name != nullptr ? std::string(name) : absl::StrFormat("0x%02x", opcode);
  }

  absl::Status Execute(uint8_t opcode) {
    switch (opcode) {
      case kProto: {
        MC_ASSIGN_OR_RETURN(uint8_t protocol, ReadLittleEndian<uint8_t>());
        if (protocol > kHighestPickleProtocol) {
          return absl::UnimplementedError(absl::StrCat("pickle protocol ", protocol));
        }
        return absl::OkStatus();
      }
      case kFrame:  // A frame only groups the opcodes that follow for buffered reading.
        return ReadLittleEndian<uint64_t>().status();
      case kGlobal: {
        MC_ASSIGN_OR_RETURN(absl::string_view module, ReadLine());
        MC_ASSIGN_OR_RETURN(absl::string_view name, ReadLine());
        return PushResult(ResolveGlobal(module, name));
      }
      case kStackGlobal: {
        MC_ASSIGN_OR_RETURN(std::string name, PopAs<std::string>("global name"));
        MC_ASSIGN_OR_RETURN(std::string module, PopAs<std::string>("global module"));
        return PushResult(ResolveGlobal(module, name));
      }
      case kMark:
        marks_.push_back(stack_.size());
        return absl::OkStatus();
      case kNone:
        return Push(None{});
      case kNewTrue:
        return Push(true);
      case kNewFalse:
        return Push(false);
      case kBinInt:
        return PushInt(ReadLittleEndian<int32_t>());
      case kBinInt1:
        return PushInt(ReadLittleEndian<uint8_t>());
      case kBinInt2:
        return PushInt(ReadLittleEndian<uint16_t>());
      case kLong1:
        return PushResult(ReadLong1());
      case kBinFloat:
        return PushResult(ReadBinFloat());
      case kBinUnicode:
        return PushResult(ReadString<uint32_t>());
      case kShortBinUnicode:
        return PushResult(ReadString<uint8_t>());
      case kEmptyTuple:
        return Push(std::make_shared<const Tuple>());
      case kTuple:
        return PushResult(MakeTuple(PopToMark()));
      case kTuple1:
        return PushResult(MakeTuple(PopValues(1)));
      case kTuple2:
        return PushResult(MakeTuple(PopValues(2)));
      case kTuple3:
        return PushResult(MakeTuple(PopValues(3)));
      case kEmptyList:
        return Push(std::make_shared<List>());
      case kAppend: {
        MC_ASSIGN_OR_RETURN(Value item, Pop());
        return Append({std::move(item)});
      }
      case kAppends: {
        MC_ASSIGN_OR_RETURN(std::vector<Value> items, PopToMark());
        return Append(items);
      }
      case kEmptyDict:
        return Push(std::make_shared<Dict>());
      case kSetItem: {
        MC_ASSIGN_OR_RETURN(Value value, Pop());
        MC_ASSIGN_OR_RETURN(Value key, Pop());
        return SetItems({std::move(key), std::move(value)});
      }
      case kSetItems: {
        MC_ASSIGN_OR_RETURN(std::vector<Value> items, PopToMark());
        return SetItems(items);
      }
      case kBinPut: {
        MC_ASSIGN_OR_RETURN(uint8_t index, ReadLittleEndian<uint8_t>());
        return Memoize(index);
      }
      case kLongBinPut: {
        MC_ASSIGN_OR_RETURN(uint32_t index, ReadLittleEndian<uint32_t>());
        return Memoize(index);
      }
      case kMemoize:
        return Memoize(memo_.size());
      case kBinGet: {
        MC_ASSIGN_OR_RETURN(uint8_t index, ReadLittleEndian<uint8_t>());
        return Recall(index);
      }
      case kLongBinGet: {
        MC_ASSIGN_OR_RETURN(uint32_t index, ReadLittleEndian<uint32_t>());
        return Recall(index);
      }
      case kBinPersId: {
        MC_ASSIGN_OR_RETURN(std::shared_ptr<const Tuple> id,
                            PopAs<std::shared_ptr<const Tuple>>("persistent id"));
        return PushResult(LoadStorage(*id));
      }
      case kReduce: {
        MC_ASSIGN_OR_RETURN(std::shared_ptr<const Tuple> args,
                            PopAs<std::shared_ptr<const Tuple>>("REDUCE arguments"));
        MC_ASSIGN_OR_RETURN(Callable callable, PopAs<Callable>("REDUCE callable"));
        return PushResult(Call(callable, *args));
      }
      case kBuild:
        return Build();
      default:
        if (PickleOpcodeName(opcode) != nullptr) {
          return absl::UnimplementedError("unsupported pickle opcode");
        }
        return absl::DataLossError("corrupt pickle: not an opcode");
    }
  }

  // --- Reading operands.

  absl::StatusOr<absl::string_view> Read(size_t n) {
    if (pickle_.size() - pos_ < n) return absl::DataLossError("data.pkl is truncated");
    absl::string_view bytes = pickle_.substr(pos_, n);
    pos_ += n;
    return bytes;
  }

  template <typename Int>
  absl::StatusOr<Int> ReadLittleEndian() {
    MC_ASSIGN_OR_RETURN(absl::string_view bytes, Read(sizeof(Int)));
    uint64_t bits = 0;
    for (size_t i = 0; i < sizeof(Int); ++i) {
      bits |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
    }
    return static_cast<Int>(bits);
  }

  // LONG1: a length byte, then that many bytes of a little-endian two's complement integer.
  absl::StatusOr<int64_t> ReadLong1() {
    MC_ASSIGN_OR_RETURN(uint8_t length, ReadLittleEndian<uint8_t>());
    if (length > sizeof(int64_t)) {
      return absl::UnimplementedError(absl::StrCat(length, "-byte integer (at most 8 supported)"));
    }
    MC_ASSIGN_OR_RETURN(absl::string_view bytes, Read(length));
    uint64_t bits = 0;
    for (size_t i = 0; i < length; ++i) {
      bits |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
    }
    if (length > 0 && length < sizeof(int64_t) && (bytes[length - 1] & 0x80) != 0) {
      bits |= ~uint64_t{0} << (8 * length);  // sign-extend
    }
    return static_cast<int64_t>(bits);
  }

  // BINFLOAT: an IEEE 754 double, big-endian.
  absl::StatusOr<double> ReadBinFloat() {
    MC_ASSIGN_OR_RETURN(absl::string_view bytes, Read(sizeof(double)));
    uint64_t bits = 0;
    for (char byte : bytes) bits = (bits << 8) | static_cast<uint8_t>(byte);
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }

  // BINUNICODE / SHORT_BINUNICODE: a `Length`-typed byte count, then UTF-8 bytes.
  template <typename Length>
  absl::StatusOr<std::string> ReadString() {
    MC_ASSIGN_OR_RETURN(Length length, ReadLittleEndian<Length>());
    MC_ASSIGN_OR_RETURN(absl::string_view bytes, Read(length));
    return std::string(bytes);
  }

  // GLOBAL's operands: text lines ending in '\n'.
  absl::StatusOr<absl::string_view> ReadLine() {
    const size_t end = pickle_.find('\n', pos_);
    if (end == absl::string_view::npos) return absl::DataLossError("data.pkl is truncated");
    absl::string_view line = pickle_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }

  // --- The stack and the memo.

  absl::Status Push(Value value) {
    stack_.push_back(std::move(value));
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status PushResult(absl::StatusOr<T> value) {
    if (!value.ok()) return value.status();
    return Push(*std::move(value));
  }

  // Pushes a Python int, which is an int64_t whatever width it was encoded in.
  template <typename Int>
  absl::Status PushInt(absl::StatusOr<Int> value) {
    if (!value.ok()) return value.status();
    return Push(static_cast<int64_t>(*value));
  }

  // Like Python's unpickler, opcodes see only the values pushed since the last open MARK.
  bool StackIsEmpty() const { return stack_.size() <= (marks_.empty() ? 0 : marks_.back()); }

  absl::StatusOr<Value> Pop() {
    if (StackIsEmpty()) return absl::DataLossError("corrupt pickle: pops an empty stack");
    Value value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }

  template <typename T>
  absl::StatusOr<T> PopAs(absl::string_view what) {
    MC_ASSIGN_OR_RETURN(Value value, Pop());
    return Get<T>(value, what);
  }

  // Pops the values pushed since the last MARK, and the mark.
  absl::StatusOr<std::vector<Value>> PopToMark() {
    if (marks_.empty()) return absl::DataLossError("corrupt pickle: no MARK to pop to");
    std::vector<Value> values(std::make_move_iterator(stack_.begin() + marks_.back()),
                              std::make_move_iterator(stack_.end()));
    stack_.resize(marks_.back());
    marks_.pop_back();
    return values;
  }

  // Pops the top `count` values, in the order they were pushed.
  absl::StatusOr<std::vector<Value>> PopValues(size_t count) {
    std::vector<Value> values(count);
    for (size_t i = count; i > 0; --i) {
      MC_ASSIGN_OR_RETURN(values[i - 1], Pop());
    }
    return values;
  }

  // Returns the top of the stack as a `T`, leaving it there.
  template <typename T>
  absl::StatusOr<T> Top(absl::string_view what) {
    if (StackIsEmpty()) return absl::DataLossError("corrupt pickle: reads an empty stack");
    return Get<T>(stack_.back(), what);
  }

  absl::Status Memoize(uint64_t index) {
    if (StackIsEmpty()) return absl::DataLossError("corrupt pickle: memoizes an empty stack");
    memo_[index] = stack_.back();
    return absl::OkStatus();
  }

  absl::Status Recall(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) {
      return absl::DataLossError(absl::StrCat("corrupt pickle: memo has no entry ", index));
    }
    return Push(it->second);
  }

  // --- Containers.

  // Records that `item` is put into `container`, whose depth is `*depth`.
  static absl::Status Nest(const Value& item, const void* container, int* depth) {
    int item_depth = 0;
    if (const auto* tuple = std::get_if<std::shared_ptr<const Tuple>>(&item)) {
      item_depth = (*tuple)->depth;
    } else if (const auto* list = std::get_if<std::shared_ptr<List>>(&item)) {
      if (list->get() == container) return absl::UnimplementedError("a list that holds itself");
      (*list)->nested = true;
      item_depth = (*list)->depth;
    } else if (const auto* dict = std::get_if<std::shared_ptr<Dict>>(&item)) {
      if (dict->get() == container) return absl::UnimplementedError("a dict that holds itself");
      (*dict)->nested = true;
      item_depth = (*dict)->depth;
    }
    *depth = std::max(*depth, item_depth + 1);
    if (*depth > kMaxNestingDepth) {
      return absl::UnimplementedError(
          absl::StrCat("containers nested more than ", kMaxNestingDepth, " levels deep"));
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::shared_ptr<const Tuple>> MakeTuple(
      absl::StatusOr<std::vector<Value>> items) {
    if (!items.ok()) return items.status();
    auto tuple = std::make_shared<Tuple>();
    for (const Value& item : *items) MC_RETURN_IF_ERROR(Nest(item, tuple.get(), &tuple->depth));
    tuple->items = *std::move(items);
    return tuple;
  }

  absl::Status Append(const std::vector<Value>& items) {
    MC_ASSIGN_OR_RETURN(std::shared_ptr<List> list, Top<std::shared_ptr<List>>("APPEND target"));
    if (list->nested) return absl::UnimplementedError("APPEND to a list inside a container");
    for (const Value& item : items) MC_RETURN_IF_ERROR(Nest(item, list.get(), &list->depth));
    list->items.insert(list->items.end(), items.begin(), items.end());
    return absl::OkStatus();
  }

  // Sets alternating keys and values on the dict on top of the stack.
  absl::Status SetItems(const std::vector<Value>& keys_and_values) {
    MC_ASSIGN_OR_RETURN(std::shared_ptr<Dict> dict, Top<std::shared_ptr<Dict>>("SETITEM target"));
    if (dict->nested) return absl::UnimplementedError("SETITEM on a dict inside a container");
    if (keys_and_values.size() % 2 != 0) {
      return absl::DataLossError("corrupt pickle: a key without a value");
    }
    for (size_t i = 0; i < keys_and_values.size(); i += 2) {
      const Value& key = keys_and_values[i];
      const std::string* name = std::get_if<std::string>(&key);
      if (name == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("dict key is a ", TypeName(key), ": only str keys are supported"));
      }
      if (!dict->keys.insert(*name).second) {
        return absl::DataLossError(absl::StrCat("duplicate dict key '", *name, "'"));
      }
      MC_RETURN_IF_ERROR(Nest(keys_and_values[i + 1], dict.get(), &dict->depth));
      dict->items.emplace_back(*name, keys_and_values[i + 1]);
    }
    return absl::OkStatus();
  }

  // BUILD sets the state of the object below it; the only object a state dict builds is its
  // OrderedDict, whose `_metadata` attribute (module versions) is not needed.
  absl::Status Build() {
    MC_ASSIGN_OR_RETURN(Value state, Pop());
    MC_RETURN_IF_ERROR(Get<std::shared_ptr<Dict>>(state, "BUILD state").status());
    return Top<std::shared_ptr<Dict>>("BUILD target").status();
  }

  // --- Calls and storages.

  absl::StatusOr<Value> Call(Callable callable, const Tuple& args) {
    switch (callable) {
      case Callable::kOrderedDict:
        if (!args.items.empty()) {
          return absl::UnimplementedError("collections.OrderedDict with initial items");
        }
        return std::make_shared<Dict>();
      case Callable::kRebuildTensorV2:
        return RebuildTensor(args);
      case Callable::kRebuildParameter:
        return RebuildParameter(args);
      case Callable::kRestoreTypeTag:
        // LibTorch's pickler wraps a typed container as restore_type_tag(value, "Dict[...]");
        // the type is only a hint for TorchScript.
        if (args.items.size() != 2 || !std::holds_alternative<std::string>(args.items[1])) {
          return absl::DataLossError("restore_type_tag arguments are not (value, type string)");
        }
        return args.items[0];
    }
    return absl::InternalError("unknown callable");
  }

  // BINPERSID: the persistent id ('storage', storage class, key, location, numel) names the
  // record `data/<key>`. Views of one storage name the same key, and share its memory.
  absl::StatusOr<Value> LoadStorage(const Tuple& id) {
    if (id.items.size() != 5 || !std::holds_alternative<std::string>(id.items[0]) ||
        std::get<std::string>(id.items[0]) != "storage") {
      return absl::DataLossError(
          "persistent id is not ('storage', storage class, key, location, numel)");
    }
    MC_ASSIGN_OR_RETURN(StorageClass storage_class,
                        Get<StorageClass>(id.items[1], "storage class"));
    MC_ASSIGN_OR_RETURN(std::string key, Get<std::string>(id.items[2], "storage key"));
    // The location ("cpu", "cuda:0") is not used: every tensor is read onto the CPU.
    MC_RETURN_IF_ERROR(Get<std::string>(id.items[3], "storage location").status());
    MC_ASSIGN_OR_RETURN(int64_t numel, Get<int64_t>(id.items[4], "storage numel"));

    auto it = storages_.find(key);
    if (it != storages_.end()) {
      const TypedStorage& loaded = it->second;
      if (loaded.dtype != storage_class.dtype ||
          static_cast<int64_t>(loaded.storage.nbytes() / c10::elementSize(loaded.dtype)) != numel) {
        return absl::DataLossError(
            absl::StrCat("storage '", key, "' is named with two different types or sizes"));
      }
      return loaded;
    }
    uint64_t nbytes;
    if (numel < 0 || __builtin_mul_overflow(static_cast<uint64_t>(numel),
                                            c10::elementSize(storage_class.dtype), &nbytes)) {
      return absl::DataLossError(absl::StrCat("storage '", key, "' has invalid numel ", numel));
    }
    MC_ASSIGN_OR_RETURN(c10::Storage storage, ReadStorageRecord(archive_, key, nbytes));
    TypedStorage typed{storage_class.dtype, std::move(storage)};
    storages_.emplace(key, typed);
    return typed;
  }

  absl::string_view pickle_;
  size_t pos_ = 0;
  caffe2::serialize::PyTorchStreamReader& archive_;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;  // stack sizes at each open MARK
  std::unordered_map<uint64_t, Value> memo_;
  std::unordered_map<std::string, TypedStorage> storages_;  // by record key
};

// ---------------------------------------------------------------------------------------------
// The archive.

// A pre-1.6 torch.save file starts with a pickled magic number: PROTO 2, LONG1 of 10 bytes.
constexpr absl::string_view kLegacyMagic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19",
                                         14);
constexpr absl::string_view kZipLocalFileMagic("PK\x03\x04", 4);

// Returns OK if `path` starts like a zip archive, or why it cannot be read.
absl::Status CheckStartsLikeZip(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  std::string head(kLegacyMagic.size(), '\0');
  file.read(head.data(), head.size());
  head.resize(file.gcount());
  if (absl::StartsWith(head, kZipLocalFileMagic)) return absl::OkStatus();
  if (head == kLegacyMagic) {
    return absl::UnimplementedError(
        absl::StrCat(path, ": legacy torch.save format, re-save with torch>=1.6"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": not a zip archive, so not a file written by torch.save"));
}

absl::StatusOr<StateDict> ToStateDict(const Value& root) {
  const auto* dict_ptr = std::get_if<std::shared_ptr<Dict>>(&root);
  if (dict_ptr == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("top-level object has type ", TypeName(root), ", not a dict of tensors"));
  }
  const Dict* dict = dict_ptr->get();
  StateDict state_dict;
  state_dict.reserve(dict->items.size());
  for (const auto& [name, value] : dict->items) {
    const at::Tensor* tensor = std::get_if<at::Tensor>(&value);
    if (tensor == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry '", name, "' has type ", TypeName(value), ", not tensor"));
    }
    state_dict.emplace_back(name, *tensor);
  }
  return state_dict;
}

absl::StatusOr<StateDict> ReadArchive(caffe2::serialize::PyTorchStreamReader& archive) {
  if (archive.hasRecord("byteorder")) {  // written by torch >= 2.1
    auto [data, size] = archive.getRecord("byteorder");
    absl::string_view byte_order(static_cast<const char*>(data.get()), size);
    if (byte_order != "little") {
      return absl::UnimplementedError(
          absl::StrCat("storages are '", byte_order, "' endian, only 'little' is supported"));
    }
  }
  if (!archive.hasRecord("data.pkl")) {
    return absl::InvalidArgumentError("archive has no data.pkl record");
  }
  auto [pickle_data, pickle_size] = archive.getRecord("data.pkl");
  StateDictUnpickler unpickler(
      absl::string_view(static_cast<const char*>(pickle_data.get()), pickle_size), archive);
  MC_ASSIGN_OR_RETURN(Value root, unpickler.Run());
  return ToStateDict(root);
}

}  // namespace

absl::StatusOr<StateDict> ReadPyTorchStateDict(const std::string& path) {
  MC_RETURN_IF_ERROR(CheckStartsLikeZip(path));
  try {
    caffe2::serialize::PyTorchStreamReader archive(path);
    absl::StatusOr<StateDict> state_dict = ReadArchive(archive);
    if (!state_dict.ok()) {
      return absl::Status(state_dict.status().code(),
                          absl::StrCat(path, ": ", state_dict.status().message()));
    }
    return state_dict;
  } catch (const c10::Error& error) {
    return absl::DataLossError(
        absl::StrCat(path, ": corrupt archive: ", error.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(path, ": out of memory"));
  } catch (const std::exception& error) {  // e.g. std::invalid_argument for a garbled version
    return absl::DataLossError(absl::StrCat(path, ": corrupt archive: ", error.what()));
  }
}

absl::Status WritePyTorchStateDict(const std::string& path, const StateDict& state) {
  std::vector<char> bytes;
  try {
    c10::Dict<std::string, at::Tensor> dict;
    for (const auto& [name, tensor] : state) {
      if (!tensor.defined()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": entry '", name, "' is an undefined tensor"));
      }
      if (!dict.insert(name, tensor).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": entry '", name, "' appears more than once"));
      }
    }
    bytes = torch::jit::pickle_save(c10::IValue(std::move(dict)));
  } catch (const c10::Error& error) {
    return absl::InternalError(
        absl::StrCat(path, ": cannot pickle the state dict: ", error.what_without_backtrace()));
  }
  return WriteFileAtomically(path, absl::string_view(bytes.data(), bytes.size()));
}

}  // namespace mc::serialization
