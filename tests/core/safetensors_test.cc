#include "core/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace qwen::core {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::ElementsAre;
using testing::HasSubstr;

// A fresh directory per test, removed afterwards.
class SafetensorsTest : public testing::Test {
 protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           absl::StrCat("qwen_core_st_", getpid(), "_", info->test_suite_name(), "_", info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Writes a file with a hand-made header and `data_size` zero bytes after it; the 8-byte length
  // field is `length` when given, else the header's real length.
  fs::path WriteRaw(const std::string& name, const std::string& header, size_t data_size,
                    std::optional<uint64_t> length = std::nullopt) {
    fs::path p = dir_ / name;
    std::ofstream out(p, std::ios::binary);
    uint64_t n = length.value_or(header.size());
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
    out << header << std::string(data_size, '\0');
    return p;
  }

  // Opens `p`, expects failure with `code`, and checks the message names the file and `needles`.
  void ExpectOpenError(const fs::path& p, absl::StatusCode code,
                       const std::vector<std::string>& needles) {
    absl::StatusOr<std::shared_ptr<SafetensorsFile>> f = SafetensorsFile::Open(p);
    ASSERT_FALSE(f.ok()) << "opened " << p;
    EXPECT_EQ(f.status().code(), code) << f.status();
    const std::string msg(f.status().message());
    EXPECT_THAT(msg, HasSubstr(p.string()));
    for (const std::string& n : needles) EXPECT_THAT(msg, HasSubstr(n));
  }

  fs::path dir_;
};

Tensor F32(std::vector<float> v, Shape shape) { return Tensor::FromVector(v, std::move(shape)); }

std::string Bytes(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw_data()), t.nbytes());
}

std::map<std::string, Tensor> EveryDType() {
  std::map<std::string, Tensor> m;
  m["f32"] = F32({1.5f, -2, 3, 4, 5, 6}, {2, 3});
  Tensor bf = F32({1, 2, 3, 4, -0.25f}, {5}).To(DType::kBF16).value();
  m["bf16"] = bf;
  m["f16"] = F32({0.5f, 65504, -1}, {3}).To(DType::kF16).value();
  m["i32"] = Tensor::FromVector(std::vector<int32_t>{1, -2, 3, 2147483647}, {2, 2});
  m["i64"] = Tensor::FromVector(std::vector<int64_t>{-1, int64_t{1} << 40, 7}, {3});
  m["u8"] = Tensor::FromVector(std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 255}, {7});  // odd size
  m["scalar"] = F32({42}, {});
  m["empty"] = Tensor::Zeros({0, 3}, DType::kBF16);
  return m;
}

TEST_F(SafetensorsTest, RoundTripEveryDType) {
  const std::map<std::string, Tensor> tensors = EveryDType();
  fs::path p = dir_ / "all.safetensors";
  ASSERT_TRUE(WriteSafetensors(p, tensors, {{"format", "pt"}}).ok());
  absl::StatusOr<std::shared_ptr<SafetensorsFile>> f = SafetensorsFile::Open(p);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->path(), p);
  EXPECT_EQ((*f)->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ((*f)->tensors().size(), tensors.size());
  for (const auto& [name, want] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_TRUE((*f)->Has(name));
    absl::StatusOr<Tensor> got = (*f)->Get(name);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->dtype(), want.dtype());
    EXPECT_EQ(got->shape(), want.shape());
    EXPECT_EQ(Bytes(*got), Bytes(want));
    // Every tensor is aligned for its dtype, so the view is zero-copy: a second Get() sees the
    // same address.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(got->raw_data()) % DTypeSize(want.dtype()), 0u);
    EXPECT_EQ((*f)->Get(name)->raw_data(), got->raw_data());
  }
}

TEST_F(SafetensorsTest, WriterLayoutMatchesHuggingFace) {
  fs::path p = dir_ / "layout.safetensors";
  ASSERT_TRUE(WriteSafetensors(p, EveryDType(), {{"format", "pt"}}).ok());
  std::ifstream in(p, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(file[i]);
  EXPECT_EQ(n % 8, 0u);
  std::string header = file.substr(8, n);
  json parsed = json::parse(header);
  // Compact JSON with sorted keys, padded with spaces.
  std::string compact = parsed.dump();
  EXPECT_EQ(header.substr(0, compact.size()), compact);
  EXPECT_EQ(header.substr(compact.size()), std::string(n - compact.size(), ' '));
  EXPECT_LT(n - compact.size(), 8u);
  // Offsets tile the data block exactly.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, e] : parsed.items()) {
    if (name == "__metadata__") continue;
    ranges.emplace_back(e["data_offsets"][0].get<uint64_t>(), e["data_offsets"][1].get<uint64_t>());
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t cursor = 0;
  for (const auto& [b, e] : ranges) {
    EXPECT_EQ(b, cursor);
    cursor = e;
  }
  EXPECT_EQ(cursor, file.size() - 8 - n);
}

TEST_F(SafetensorsTest, WriteReplacesExistingFileAndLeavesNoTempFiles) {
  fs::path p = dir_ / "x.safetensors";
  ASSERT_TRUE(WriteSafetensors(p, {{"a", F32({1}, {1})}}).ok());
  ASSERT_TRUE(WriteSafetensors(p, {{"b", F32({2, 3}, {2})}}).ok());
  auto f = SafetensorsFile::Open(p);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE((*f)->Has("a"));
  EXPECT_EQ((*f)->Get("b")->data<float>()[1], 3);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir_)) entries += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(entries, 1);
}

TEST_F(SafetensorsTest, WriteErrorsNameThePath) {
  fs::path p = dir_ / "no_such_dir" / "x.safetensors";
  absl::Status s = WriteSafetensors(p, {{"a", F32({1}, {1})}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(p.string()));
  float host = 0;
  Tensor device_view = Tensor::View(&host, {1}, DType::kF32, Device::kCuda);
  s = WriteSafetensors(dir_ / "y.safetensors", {{"gpu_tensor", device_view}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("gpu_tensor"));
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int CountFiles(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

TEST_F(SafetensorsTest, StreamingWriterMatchesWriteSafetensorsByteForByte) {
  const std::map<std::string, Tensor> tensors = EveryDType();
  ASSERT_TRUE(WriteSafetensors(dir_ / "whole.safetensors", tensors, {{"format", "pt"}}).ok());

  std::map<std::string, TensorSpec> specs;
  for (const auto& [name, t] : tensors) specs[name] = TensorSpec{t.dtype(), t.shape()};
  absl::StatusOr<std::unique_ptr<SafetensorsWriter>> w =
      SafetensorsWriter::Create(dir_ / "streamed.safetensors", specs, {{"format", "pt"}});
  ASSERT_TRUE(w.ok()) << w.status();
  // The whole data block in order(), then appended in odd-sized pieces that straddle tensors.
  std::string data;
  for (const std::string& name : (*w)->order()) data += Bytes(tensors.at(name));
  ASSERT_EQ(data.size(), (*w)->data_size());
  for (size_t pos = 0; pos < data.size(); pos += 5) {
    ASSERT_TRUE((*w)->Append(data.data() + pos, std::min<size_t>(5, data.size() - pos)).ok());
  }
  EXPECT_EQ((*w)->bytes_appended(), data.size());
  ASSERT_TRUE((*w)->Finish().ok());
  const std::string streamed = ReadFile(dir_ / "streamed.safetensors");
  EXPECT_EQ(streamed, ReadFile(dir_ / "whole.safetensors"));
  EXPECT_EQ(streamed.size(), (*w)->file_size());
  EXPECT_EQ(CountFiles(dir_), 2);  // no temporary file left
  // order() follows the offsets: decreasing dtype size, then name.
  uint64_t cursor = 0;
  for (const std::string& name : (*w)->order()) {
    EXPECT_EQ((*w)->tensors().at(name).begin, cursor) << name;
    cursor = (*w)->tensors().at(name).end;
  }
  EXPECT_EQ((*w)->order().front(), "i64");
}

TEST_F(SafetensorsTest, StreamingWriterRejectsTooManyOrTooFewBytes) {
  std::map<std::string, TensorSpec> specs = {{"a", {DType::kF32, {2}}}};
  const fs::path p = dir_ / "a.safetensors";
  {
    auto w = SafetensorsWriter::Create(p, specs);
    ASSERT_TRUE(w.ok()) << w.status();
    float v[3] = {1, 2, 3};
    ASSERT_TRUE((*w)->Append(v, 4).ok());
    absl::Status s = (*w)->Finish();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("4 of 8"));
    s = (*w)->Append(v, 8);  // past the end
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(p.string()));
    EXPECT_FALSE((*w)->Finish().ok());  // unusable after an error
  }
  // Neither the target nor a temporary file is left behind by an unfinished writer.
  EXPECT_EQ(CountFiles(dir_), 0);
}

TEST_F(SafetensorsTest, StreamingWriterValidatesSpecs) {
  auto w = SafetensorsWriter::Create(dir_ / "x.safetensors", {{"neg", {DType::kBF16, {2, -1}}}});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(w.status().message()), HasSubstr("neg"));
  w = SafetensorsWriter::Create(dir_ / "x.safetensors", {{"__metadata__", {DType::kF32, {1}}}});
  EXPECT_FALSE(w.ok());
  w = SafetensorsWriter::Create(dir_ / "no_such_dir" / "x.safetensors", {{"a", {DType::kF32, {1}}}});
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(std::string(w.status().message()), HasSubstr("no_such_dir"));
  EXPECT_EQ(CountFiles(dir_), 0);
}

TEST_F(SafetensorsTest, ViewKeepsMappingAlive) {
  fs::path p = dir_ / "k.safetensors";
  ASSERT_TRUE(WriteSafetensors(p, {{"w", F32({7, 8, 9}, {3})}}).ok());
  Tensor t;
  {
    auto f = SafetensorsFile::Open(p);
    ASSERT_TRUE(f.ok()) << f.status();
    t = (*f)->Get("w").value();
  }  // the last SafetensorsFile handle is gone; the view still holds the mapping
  EXPECT_EQ(t.data<float>()[2], 9);  // ASan would flag a read of unmapped memory
}

TEST_F(SafetensorsTest, MisalignedTensorIsCopiedNotViewed) {
  // An odd-length header (HF pads to a multiple of 8) leaves the F32 data at an odd address.
  std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  if (header.size() % 2 == 0) header += ' ';
  fs::path p = WriteRaw("odd.safetensors", header, 0);
  const float value = 1.5f;
  std::ofstream(p, std::ios::binary | std::ios::app)
      .write(reinterpret_cast<const char*>(&value), 4);
  auto f = SafetensorsFile::Open(p);
  ASSERT_TRUE(f.ok()) << f.status();
  absl::StatusOr<Tensor> t = (*f)->Get("w");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->raw_data()) % 4, 0u);
  EXPECT_EQ(t->data<float>()[0], 1.5f);
}

TEST_F(SafetensorsTest, OpenMissingFileIsNotFound) {
  ExpectOpenError(dir_ / "absent.safetensors", absl::StatusCode::kNotFound, {});
}

TEST_F(SafetensorsTest, TruncatedFile) {
  fs::path p = dir_ / "t.safetensors";
  ASSERT_TRUE(WriteSafetensors(p, {{"a", F32({1, 2}, {2})}, {"b", F32({1, 2, 3, 4}, {4})}}).ok());
  fs::resize_file(p, fs::file_size(p) - 4);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"b\"", "truncated"});
}

TEST_F(SafetensorsTest, FileShorterThanLengthField) {
  fs::path p = dir_ / "short.safetensors";
  std::ofstream(p, std::ios::binary) << "abc";
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"3 bytes", "truncated"});
}

TEST_F(SafetensorsTest, HeaderLengthTooLarge) {
  fs::path p = WriteRaw("huge.safetensors", "{}", 0, uint64_t{1} << 40);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"header length 1099511627776", "limit"});
}

TEST_F(SafetensorsTest, HeaderLengthBeyondFile) {
  fs::path p = WriteRaw("beyond.safetensors", "{}", 0, 1000);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"header length 1000", "truncated"});
}

TEST_F(SafetensorsTest, BadJson) {
  fs::path p = WriteRaw("bad.safetensors", R"({"w": {"dtype": "F32",)", 0);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"not valid JSON"});
}

TEST_F(SafetensorsTest, HeaderNotAnObject) {
  fs::path p = WriteRaw("array.safetensors", "[1, 2]", 0);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"array"});
}

TEST_F(SafetensorsTest, UnknownDType) {
  fs::path p =
      WriteRaw("f64.safetensors", R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", 16);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"w\"", "F64"});
}

TEST_F(SafetensorsTest, ShapeByteSizeMismatch) {
  fs::path p = WriteRaw("mismatch.safetensors",
                        R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"w\"", "[2, 3]", "24 bytes", "20"});
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  fs::path p = WriteRaw("overlap.safetensors",
                        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                        12);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"b\"", "overlap", "\"a\""});
}

TEST_F(SafetensorsTest, OutOfRangeOffsets) {
  fs::path p = WriteRaw("range.safetensors",
                        R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"w\"", "[0, 16]", "8-byte data block"});
}

TEST_F(SafetensorsTest, BeginAfterEnd) {
  fs::path p = WriteRaw("reversed.safetensors",
                        R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"w\"", "begin > end"});
}

TEST_F(SafetensorsTest, GapInDataBlock) {
  fs::path p = WriteRaw("gap.safetensors",
                        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                        20);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"b\"", "gap", "[8, 12)"});
}

TEST_F(SafetensorsTest, TrailingBytesNotCovered) {
  fs::path p = WriteRaw("trailing.safetensors",
                        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"[8, 12)", "no tensor"});
}

TEST_F(SafetensorsTest, NegativeDim) {
  fs::path p =
      WriteRaw("neg.safetensors", R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"w\"", "shape[0] = -1"});
}

TEST_F(SafetensorsTest, MissingField) {
  fs::path p = WriteRaw("nofield.safetensors", R"({"w":{"dtype":"F32","shape":[1]}})", 4);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"w\"", "data_offsets"});
}

TEST_F(SafetensorsTest, WrongJsonType) {
  fs::path p =
      WriteRaw("types.safetensors", R"({"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", 4);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"\"w\"", "\"shape\" is not an array"});
}

TEST_F(SafetensorsTest, MetadataMustBeStrings) {
  fs::path p = WriteRaw("meta.safetensors", R"({"__metadata__":{"step":1}})", 0);
  ExpectOpenError(p, absl::StatusCode::kInvalidArgument, {"__metadata__", "step"});
}

// ---- Checkpoint ------------------------------------------------------------------------------

class CheckpointTest : public SafetensorsTest {
 protected:
  // Two shards plus an index, as HF's save_pretrained writes them.
  void WriteSharded(const json& weight_map) {
    ASSERT_TRUE(WriteSafetensors(dir_ / "model-00001-of-00002.safetensors",
                                 {{"model.embed.weight", F32({1, 2, 3, 4}, {2, 2})},
                                  {"model.layers.0.w", F32({5}, {1})}})
                    .ok());
    ASSERT_TRUE(WriteSafetensors(dir_ / "model-00002-of-00002.safetensors",
                                 {{"model.layers.1.w", F32({6, 7}, {2})},
                                  {"lm_head.weight", F32({8, 9, 10, 11}, {2, 2})}})
                    .ok());
    json index = {{"metadata", {{"total_size", 44}}}, {"weight_map", weight_map}};
    std::ofstream(dir_ / "model.safetensors.index.json") << index.dump(2);
  }
  static json FullMap() {
    return {{"model.embed.weight", "model-00001-of-00002.safetensors"},
            {"model.layers.0.w", "model-00001-of-00002.safetensors"},
            {"model.layers.1.w", "model-00002-of-00002.safetensors"},
            {"lm_head.weight", "model-00002-of-00002.safetensors"}};
  }
  void ExpectCheckpointError(absl::StatusCode code, const std::vector<std::string>& needles) {
    absl::StatusOr<Checkpoint> c = Checkpoint::Open(dir_);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), code) << c.status();
    for (const std::string& n : needles)
      EXPECT_THAT(std::string(c.status().message()), HasSubstr(n));
  }
};

TEST_F(CheckpointTest, ShardedViaIndex) {
  WriteSharded(FullMap());
  absl::StatusOr<Checkpoint> c = Checkpoint::Open(dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->Names(), ElementsAre("lm_head.weight", "model.embed.weight", "model.layers.0.w",
                                      "model.layers.1.w"));
  EXPECT_TRUE(c->Has("model.layers.1.w"));
  EXPECT_FALSE(c->Has("model.layers.2.w"));
  absl::StatusOr<TensorInfo> info = c->Info("lm_head.weight");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->shape, (Shape{2, 2}));
  EXPECT_EQ(info->dtype, DType::kF32);
  absl::StatusOr<Tensor> w1 = c->Get("model.layers.1.w", {2});
  ASSERT_TRUE(w1.ok()) << w1.status();
  EXPECT_EQ(w1->data<float>()[1], 7);
  absl::StatusOr<Tensor> emb = c->Get("model.embed.weight");
  ASSERT_TRUE(emb.ok()) << emb.status();
  EXPECT_EQ(emb->data<float>()[3], 4);
  EXPECT_THAT(c->Unused(), ElementsAre("lm_head.weight", "model.layers.0.w"));
  EXPECT_THAT(c->Unused({"model."}), ElementsAre("model.layers.0.w"));
  // The index file itself is accepted as the path too.
  absl::StatusOr<Checkpoint> via_index = Checkpoint::Open(dir_ / "model.safetensors.index.json");
  ASSERT_TRUE(via_index.ok()) << via_index.status();
  EXPECT_EQ(via_index->Names().size(), 4u);
}

TEST_F(CheckpointTest, SingleFileDirectoryAndPath) {
  ASSERT_TRUE(WriteSafetensors(dir_ / "model.safetensors", {{"x", F32({1, 2}, {2})}}).ok());
  for (const fs::path& p : {dir_, dir_ / "model.safetensors"}) {
    absl::StatusOr<Checkpoint> c = Checkpoint::Open(p);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_THAT(c->Names(), ElementsAre("x"));
    EXPECT_EQ(c->Get("x")->data<float>()[1], 2);
  }
}

TEST_F(CheckpointTest, EmptyDirectoryIsNotFound) {
  ExpectCheckpointError(absl::StatusCode::kNotFound, {dir_.string(), "model.safetensors"});
}

TEST_F(CheckpointTest, MissingShard) {
  json map = FullMap();
  map["lm_head.weight"] = "model-00003-of-00003.safetensors";
  WriteSharded(map);
  ExpectCheckpointError(
      absl::StatusCode::kNotFound,
      {"model-00003-of-00003.safetensors", "lm_head.weight", "model.safetensors.index.json"});
}

TEST_F(CheckpointTest, IndexListsTensorMissingFromShard) {
  json map = FullMap();
  map["model.layers.9.w"] = "model-00002-of-00002.safetensors";
  WriteSharded(map);
  ExpectCheckpointError(
      absl::StatusCode::kInvalidArgument,
      {"model.layers.9.w", "model-00002-of-00002.safetensors", "missing from this shard"});
}

TEST_F(CheckpointTest, ShardHasTensorNotInIndex) {
  json map = FullMap();
  map.erase("model.layers.0.w");
  WriteSharded(map);
  ExpectCheckpointError(absl::StatusCode::kInvalidArgument,
                        {"model.layers.0.w", "model-00001-of-00002.safetensors", "not listed"});
}

TEST_F(CheckpointTest, DuplicateTensorAcrossShards) {
  WriteSharded(FullMap());
  // A third shard repeats a tensor that the index assigns to shard 1.
  ASSERT_TRUE(WriteSafetensors(dir_ / "extra.safetensors",
                               {{"model.layers.0.w", F32({0}, {1})}, {"extra.w", F32({0}, {1})}})
                  .ok());
  json map = FullMap();
  map["extra.w"] = "extra.safetensors";
  std::ofstream(dir_ / "model.safetensors.index.json") << json{{"weight_map", map}}.dump();
  ExpectCheckpointError(
      absl::StatusCode::kInvalidArgument,
      {"model.layers.0.w", "duplicate", "extra.safetensors", "model-00001-of-00002.safetensors"});
}

TEST_F(CheckpointTest, ShardNameEscapingDirectoryIsRejected) {
  json map = FullMap();
  map["lm_head.weight"] = "../elsewhere.safetensors";
  WriteSharded(map);
  ExpectCheckpointError(absl::StatusCode::kInvalidArgument, {"../elsewhere.safetensors"});
}

TEST_F(CheckpointTest, MalformedIndex) {
  std::ofstream(dir_ / "model.safetensors.index.json") << R"({"weight_map": [1]})";
  ExpectCheckpointError(absl::StatusCode::kInvalidArgument,
                        {"model.safetensors.index.json", "weight_map"});
}

TEST_F(CheckpointTest, MissingTensorOnGet) {
  WriteSharded(FullMap());
  absl::StatusOr<Checkpoint> c = Checkpoint::Open(dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<Tensor> t = c->Get("model.norm.weight");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("model.norm.weight"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(dir_.string()));
  EXPECT_EQ(c->Info("model.norm.weight").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, ShapeMismatchOnGet) {
  WriteSharded(FullMap());
  absl::StatusOr<Checkpoint> c = Checkpoint::Open(dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<Tensor> t = c->Get("lm_head.weight", {4, 1});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string msg(t.status().message());
  EXPECT_THAT(msg, HasSubstr("lm_head.weight"));
  EXPECT_THAT(msg, HasSubstr("model-00002-of-00002.safetensors"));
  EXPECT_THAT(msg, HasSubstr("[2, 2]"));
  EXPECT_THAT(msg, HasSubstr("[4, 1]"));
  // A failed Get does not count as a use.
  EXPECT_THAT(c->Unused({"lm_head"}), ElementsAre("lm_head.weight"));
}

TEST_F(CheckpointTest, UnusedReportsUnexpectedTensors) {
  WriteSharded(FullMap());
  absl::StatusOr<Checkpoint> c = Checkpoint::Open(dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  // A loader that knows only these three names must learn about model.layers.1.w.
  for (const char* name : {"model.embed.weight", "model.layers.0.w", "lm_head.weight"}) {
    ASSERT_TRUE(c->Get(name).ok()) << name;
  }
  EXPECT_THAT(c->Unused(), ElementsAre("model.layers.1.w"));
  EXPECT_THAT(c->Unused({"model.layers."}), ElementsAre("model.layers.1.w"));
  EXPECT_THAT(c->Unused({"lm_head", "mtp."}), testing::IsEmpty());
}

}  // namespace
}  // namespace qwen::core
