// Safetensors reading (mmap, zero-copy views) and writing.
// Format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data block; offsets are relative to the data block.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace qwen::core {

struct TensorInfo {
  DType dtype;
  Shape shape;
  uint64_t begin = 0;  // byte offsets into the data block
  uint64_t end = 0;
};

// One mmap'ed .safetensors file. Open() validates the whole header: length within the file, JSON
// well-formed, every dtype known, byte size == numel * dtype size, offsets in range and
// non-overlapping, data block fully covered by tensors. Errors name the file and the tensor:
// a missing file is NotFound (other I/O errors map from errno), a malformed one InvalidArgument.
class SafetensorsFile {
 public:
  static absl::StatusOr<std::shared_ptr<SafetensorsFile>> Open(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool Has(const std::string& name) const { return tensors_.count(name) != 0; }
  // A zero-copy CPU view into the mapping (read-only data: do not write through it); the view
  // keeps the mapping alive. NotFound names the file and tensor. Only a tensor whose bytes are
  // misaligned for its dtype (possible only in files not padded as HF pads them) comes back as an
  // aligned owning copy instead.
  absl::StatusOr<Tensor> Get(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_block_ = nullptr;
  std::weak_ptr<SafetensorsFile> self_;
};

// A checkpoint: a directory with model.safetensors, or a sharded set described by
// model.safetensors.index.json ({"weight_map": {tensor: shard file}}), or a single .safetensors
// path (a path ending in ".index.json" is read as an index). Every shard is opened once and must
// hold exactly the tensors the index assigns to it. Tracks which tensors were read so a loader can
// reject unexpected extras. Not thread-safe: Get() records use.
class Checkpoint {
 public:
  static absl::StatusOr<Checkpoint> Open(const std::filesystem::path& path);

  bool Has(const std::string& name) const;
  absl::StatusOr<TensorInfo> Info(const std::string& name) const;
  // Zero-copy view; marks `name` as used. NotFound ("missing tensor X in <dir>") when absent.
  absl::StatusOr<Tensor> Get(const std::string& name);
  // Like Get() but also checks the shape (InvalidArgument naming file, tensor, both shapes).
  absl::StatusOr<Tensor> Get(const std::string& name, const Shape& expected_shape);
  std::vector<std::string> Names() const;
  // Names never passed to Get() whose name starts with one of `prefixes` (all names when empty).
  std::vector<std::string> Unused(const std::vector<std::string>& prefixes = {}) const;

 private:
  std::filesystem::path root_;
  std::map<std::string, std::shared_ptr<SafetensorsFile>> by_name_;
  std::set<std::string> used_;
};

// The dtype and shape of a tensor whose bytes reach a SafetensorsWriter later.
struct TensorSpec {
  DType dtype;
  Shape shape;
};

// Streams one safetensors file whose data need never be in memory at once: the header is laid out
// up front from the tensors' dtypes and shapes (the same bytes WriteSafetensors writes), then the
// data block arrives through Append() in pieces of any size, tensor after tensor in order().
// Like WriteSafetensors it writes a temporary file next to `path` and renames it into place in
// Finish(), so readers never see a partial file; a writer destroyed before Finish() succeeded
// removes its temporary file. Not thread-safe (one caller at a time, from any thread).
class SafetensorsWriter {
 public:
  // InvalidArgument for a bad tensor name, a negative dimension or invalid UTF-8 metadata; I/O
  // errors name the path.
  static absl::StatusOr<std::unique_ptr<SafetensorsWriter>> Create(
      const std::filesystem::path& path, const std::map<std::string, TensorSpec>& tensors,
      const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // Tensor names in the order their bytes are appended (decreasing dtype size, then name).
  const std::vector<std::string>& order() const { return order_; }
  // Where each tensor lies in the data block.
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  uint64_t data_size() const { return data_size_; }
  uint64_t bytes_appended() const { return appended_; }
  // Size of the finished file: 8 + header + data.
  uint64_t file_size() const { return file_size_; }

  // Appends the next `size` bytes of the data block (they may span tensors). InvalidArgument past
  // the end of the data block; I/O errors name the path. After an error the writer is unusable.
  absl::Status Append(const void* data, size_t size);
  // FailedPrecondition unless exactly data_size() bytes were appended; then fsyncs and renames.
  absl::Status Finish();

 private:
  SafetensorsWriter() = default;
  std::filesystem::path path_;
  std::string tmp_path_;
  int fd_ = -1;
  std::vector<std::string> order_;
  std::map<std::string, TensorInfo> tensors_;
  uint64_t data_size_ = 0;
  uint64_t appended_ = 0;
  uint64_t file_size_ = 0;
  bool failed_ = false;
};

// Writes `tensors` (CPU tensors of any supported dtype) to `path` in safetensors format: compact
// header JSON with sorted keys, padded with spaces to a multiple of 8 bytes, data laid out by
// decreasing dtype size then name (so every tensor is aligned), as HF's writer does. Writes a
// temporary file next to `path` and renames it into place. Errors name the path.
absl::Status WriteSafetensors(const std::filesystem::path& path,
                              const std::map<std::string, Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace qwen::core
