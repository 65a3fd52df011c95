#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace qwen::core {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// A header this large is certainly corrupt (real checkpoints have headers of a few hundred KB);
// the cap also bounds what a hostile file can make us allocate. HF's reader uses the same limit.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr char kIndexFileName[] = "model.safetensors.index.json";
constexpr char kSingleFileName[] = "model.safetensors";

absl::Status FileError(const fs::path& path, absl::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", msg));
}

absl::Status TensorError(const fs::path& path, const std::string& name, absl::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat(path.string(), ": tensor \"", name, "\": ", msg));
}

absl::Status ErrnoError(int err, const fs::path& path, absl::string_view what) {
  return absl::ErrnoToStatus(err, absl::StrCat(path.string(), ": ", what));
}

// Reads a JSON integer that must fit in [0, 2^63).
bool ReadNonNegative(const json& v, uint64_t* out) {
  if (!v.is_number_unsigned()) return false;  // negatives parse as number_integer
  *out = v.get<uint64_t>();
  return *out <= static_cast<uint64_t>(INT64_MAX);
}

// Parses one header entry {"dtype", "shape", "data_offsets"}; `data_size` bounds the offsets.
absl::StatusOr<TensorInfo> ParseEntry(const fs::path& path, const std::string& name,
                                      const json& entry, uint64_t data_size) {
  if (!entry.is_object()) {
    return TensorError(path, name,
                       absl::StrCat("header entry is ", entry.type_name(), ", expected an object"));
  }
  auto dtype_it = entry.find("dtype");
  auto shape_it = entry.find("shape");
  auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end()) return TensorError(path, name, "missing \"dtype\"");
  if (shape_it == entry.end()) return TensorError(path, name, "missing \"shape\"");
  if (offsets_it == entry.end()) return TensorError(path, name, "missing \"data_offsets\"");
  if (!dtype_it->is_string()) return TensorError(path, name, "\"dtype\" is not a string");
  if (!shape_it->is_array()) return TensorError(path, name, "\"shape\" is not an array");
  if (!offsets_it->is_array() || offsets_it->size() != 2) {
    return TensorError(path, name, "\"data_offsets\" is not an array of two integers");
  }

  TensorInfo info;
  absl::StatusOr<DType> dtype = ParseDType(dtype_it->get<std::string>());
  if (!dtype.ok()) return TensorError(path, name, dtype.status().message());
  info.dtype = *dtype;

  // numel * dtype size with overflow detection: a hostile shape must not wrap around.
  uint64_t nbytes = DTypeSize(info.dtype);
  bool overflow = false;
  for (size_t i = 0; i < shape_it->size(); ++i) {
    const json& d = (*shape_it)[i];
    if (!d.is_number_integer()) {
      return TensorError(path, name, absl::StrCat("shape[", i, "] is not an integer"));
    }
    uint64_t dim = 0;
    if (!ReadNonNegative(d, &dim)) {
      return TensorError(path, name,
                         absl::StrCat("shape[", i, "] = ", d.dump(), " is negative or too large"));
    }
    info.shape.push_back(static_cast<int64_t>(dim));
    overflow = overflow || __builtin_mul_overflow(nbytes, dim, &nbytes);
  }

  const json& b = (*offsets_it)[0];
  const json& e = (*offsets_it)[1];
  if (!b.is_number_integer() || !e.is_number_integer() || !ReadNonNegative(b, &info.begin) ||
      !ReadNonNegative(e, &info.end)) {
    return TensorError(
        path, name,
        absl::StrCat("data_offsets ", offsets_it->dump(), " are not two non-negative integers"));
  }
  if (info.begin > info.end) {
    return TensorError(
        path, name,
        absl::StrCat("data_offsets [", info.begin, ", ", info.end, "] have begin > end"));
  }
  if (info.end > data_size) {
    return TensorError(
        path, name,
        absl::StrCat("data_offsets [", info.begin, ", ", info.end, "] run past the end of the ",
                     data_size, "-byte data block (file truncated?)"));
  }
  if (overflow || info.end - info.begin != nbytes) {
    return TensorError(
        path, name,
        absl::StrCat("shape ", ShapeToString(info.shape), " of ", DTypeName(info.dtype), " needs ",
                     overflow ? std::string("more than 2^64") : absl::StrCat(nbytes),
                     " bytes but data_offsets [", info.begin, ", ", info.end, "] span ",
                     info.end - info.begin));
  }
  return info;
}

// HF's reader requires the tensors to tile the data block exactly: no overlaps, no holes, no
// trailing bytes. Anything else means a corrupt or hand-edited file.
absl::Status CheckCoverage(const fs::path& path, const std::map<std::string, TensorInfo>& tensors,
                           uint64_t data_size) {
  std::vector<std::pair<const std::string*, const TensorInfo*>> order;
  order.reserve(tensors.size());
  for (const auto& [name, info] : tensors) order.emplace_back(&name, &info);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second->begin, a.second->end) < std::tie(b.second->begin, b.second->end);
  });
  uint64_t cursor = 0;
  const std::string* prev = nullptr;
  for (const auto& [name, info] : order) {
    if (info->begin < cursor) {
      return TensorError(
          path, *name,
          absl::StrCat("data_offsets [", info->begin, ", ", info->end, "] overlap tensor \"", *prev,
                       "\" (which ends at ", cursor, ")"));
    }
    if (info->begin > cursor) {
      return TensorError(path, *name,
                         absl::StrCat("gap in the data block: bytes [", cursor, ", ", info->begin,
                                      ") before this tensor belong to no tensor"));
    }
    cursor = info->end;
    prev = name;
  }
  if (cursor != data_size) {
    return FileError(
        path, absl::StrCat("data block is ", data_size, " bytes but tensors cover only ", cursor,
                           " (bytes [", cursor, ", ", data_size, ") belong to no tensor)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadTextFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError(errno, path, "cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return ErrnoError(errno, path, "read failed");
  return ss.str();
}

// Uses nlohmann's own UTF-8 rules (dump() would throw on the bytes it rejects): replacing and
// ignoring invalid sequences give the same text only when there are none.
bool IsValidUtf8(const std::string& s) {
  json j = s;
  return j.dump(-1, ' ', false, json::error_handler_t::replace) ==
         j.dump(-1, ' ', false, json::error_handler_t::ignore);
}

// Writes all of `data` to `fd`, retrying short writes and EINTR.
bool WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::shared_ptr<SafetensorsFile>> SafetensorsFile::Open(const fs::path& path) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->self_ = file;
  file->path_ = path;

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, path, "cannot open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError(err, path, "cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return FileError(path, "not a regular file");
  }
  auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    return FileError(path,
                     absl::StrCat("file is ", file_size,
                                  " bytes, shorter than the 8-byte header length (truncated)"));
  }
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);  // the mapping stays valid without the descriptor
  if (map == MAP_FAILED) return ErrnoError(map_errno, path, "mmap failed");
  file->map_ = map;
  file->map_size_ = file_size;

  const auto* bytes = static_cast<const uint8_t*>(map);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian
  if (header_len > kMaxHeaderBytes) {
    return FileError(path, absl::StrCat("header length ", header_len, " exceeds the ",
                                        kMaxHeaderBytes, "-byte limit (corrupt file?)"));
  }
  if (header_len > file_size - 8) {
    return FileError(path, absl::StrCat("header length ", header_len, " runs past the end of the ",
                                        file_size, "-byte file (truncated)"));
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes + 8);
  json header = json::parse(header_begin, header_begin + header_len, nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded()) return FileError(path, "header is not valid JSON");
  if (!header.is_object()) {
    return FileError(path,
                     absl::StrCat("header is a JSON ", header.type_name(), ", expected an object"));
  }

  file->data_block_ = bytes + 8 + header_len;
  uint64_t data_size = file_size - 8 - header_len;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return FileError(path, "\"__metadata__\" is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          return FileError(
              path, absl::StrCat("\"__metadata__\" value for \"", key, "\" is not a string"));
        }
        file->metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    QWEN_ASSIGN_OR_RETURN(TensorInfo info, ParseEntry(path, name, entry, data_size));
    file->tensors_.emplace(name, std::move(info));
  }
  QWEN_RETURN_IF_ERROR(CheckCoverage(path, file->tensors_, data_size));
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

absl::StatusOr<Tensor> SafetensorsFile::Get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat(path_.string(), ": no tensor \"", name, "\""));
  }
  const TensorInfo& info = it->second;
  auto* data = const_cast<uint8_t*>(data_block_ + info.begin);
  // Files from writers that do not pad the header (or that mix dtypes without ordering by
  // alignment) can place a tensor at an address its element type may not be loaded from; such a
  // tensor is copied into an aligned buffer instead of viewed.
  if (reinterpret_cast<uintptr_t>(data) % DTypeSize(info.dtype) != 0) {
    Tensor copy = Tensor::Zeros(info.shape, info.dtype);
    std::memcpy(copy.raw_data(), data, info.end - info.begin);
    return copy;
  }
  std::shared_ptr<const void> keep_alive = self_.lock();
  return Tensor::View(data, info.shape, info.dtype, Device::kCpu, std::move(keep_alive));
}

// ---------------------------------------------------------------------------------------------
// Checkpoint

namespace {

// Rejects shard names that would escape the checkpoint directory.
bool IsSafeShardName(const std::string& shard) {
  fs::path p(shard);
  if (shard.empty() || p.is_absolute()) return false;
  for (const fs::path& part : p) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<Checkpoint> Checkpoint::Open(const fs::path& path) {
  Checkpoint ckpt;
  ckpt.root_ = path;
  std::error_code ec;
  fs::path index_path;
  fs::path single_path;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / kIndexFileName, ec)) {
      index_path = path / kIndexFileName;
    } else if (fs::exists(path / kSingleFileName, ec)) {
      single_path = path / kSingleFileName;
    } else {
      return absl::NotFoundError(absl::StrCat(path.string(), ": directory has neither ",
                                              kIndexFileName, " nor ", kSingleFileName));
    }
  } else if (fs::exists(path, ec)) {
    const std::string filename = path.filename().string();
    if (filename.size() >= 11 && filename.compare(filename.size() - 11, 11, ".index.json") == 0) {
      index_path = path;
    } else {
      single_path = path;
    }
  } else {
    return absl::NotFoundError(absl::StrCat(path.string(), ": no such file or directory"));
  }

  if (!single_path.empty()) {
    QWEN_ASSIGN_OR_RETURN(std::shared_ptr<SafetensorsFile> file,
                          SafetensorsFile::Open(single_path));
    for (const auto& [name, info] : file->tensors()) ckpt.by_name_.emplace(name, file);
    return ckpt;
  }

  QWEN_ASSIGN_OR_RETURN(std::string text, ReadTextFile(index_path));
  json index = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded()) return FileError(index_path, "not valid JSON");
  auto map_it = index.is_object() ? index.find("weight_map") : index.end();
  if (map_it == index.end() || !map_it->is_object()) {
    return FileError(index_path, "missing \"weight_map\" object");
  }
  if (map_it->empty()) return FileError(index_path, "\"weight_map\" lists no tensors");

  // shard file name -> tensor names the index assigns to it.
  std::map<std::string, std::set<std::string>> by_shard;
  for (const auto& [name, shard] : map_it->items()) {
    if (!shard.is_string()) {
      return FileError(index_path,
                       absl::StrCat("weight_map entry for tensor \"", name, "\" is not a string"));
    }
    std::string shard_name = shard.get<std::string>();
    if (!IsSafeShardName(shard_name)) {
      return FileError(index_path, absl::StrCat("tensor \"", name, "\": shard name \"", shard_name,
                                                "\" is not a relative path inside the directory"));
    }
    by_shard[shard_name].insert(name);
  }

  const fs::path dir = index_path.parent_path();
  for (const auto& [shard_name, names] : by_shard) {
    const fs::path shard_path = dir / shard_name;
    if (!fs::exists(shard_path, ec)) {
      return absl::NotFoundError(absl::StrCat(index_path.string(), ": shard \"", shard_name,
                                              "\" (holding e.g. tensor \"", *names.begin(),
                                              "\") is missing: ", shard_path.string()));
    }
    QWEN_ASSIGN_OR_RETURN(std::shared_ptr<SafetensorsFile> file, SafetensorsFile::Open(shard_path));
    for (const std::string& name : names) {
      if (!file->Has(name)) {
        return TensorError(
            shard_path, name,
            absl::StrCat("listed in ", index_path.string(), " but missing from this shard"));
      }
      ckpt.by_name_.emplace(name, file);
    }
  }
  // Second pass, once every shard is open, so a tensor stored twice can name both shards.
  for (const auto& [shard_name, names] : by_shard) {
    const std::shared_ptr<SafetensorsFile>& file = ckpt.by_name_.at(*names.begin());
    for (const auto& [name, info] : file->tensors()) {
      if (names.count(name) != 0) continue;
      auto other = ckpt.by_name_.find(name);
      if (other != ckpt.by_name_.end()) {
        return TensorError(
            file->path(), name,
            absl::StrCat("duplicate: also stored in ", other->second->path().string(),
                         " (the shard ", index_path.string(), " assigns it to)"));
      }
      return TensorError(
          file->path(), name,
          absl::StrCat("stored in this shard but not listed in ", index_path.string()));
    }
  }
  return ckpt;
}

bool Checkpoint::Has(const std::string& name) const { return by_name_.count(name) != 0; }

absl::StatusOr<TensorInfo> Checkpoint::Info(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    return absl::NotFoundError(absl::StrCat("missing tensor \"", name, "\" in ", root_.string()));
  }
  return it->second->tensors().at(name);
}

absl::StatusOr<Tensor> Checkpoint::Get(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    return absl::NotFoundError(absl::StrCat("missing tensor \"", name, "\" in ", root_.string()));
  }
  QWEN_ASSIGN_OR_RETURN(Tensor t, it->second->Get(name));
  used_.insert(name);
  return t;
}

absl::StatusOr<Tensor> Checkpoint::Get(const std::string& name, const Shape& expected_shape) {
  QWEN_ASSIGN_OR_RETURN(TensorInfo info, Info(name));
  if (info.shape != expected_shape) {
    return TensorError(by_name_.at(name)->path(), name,
                       absl::StrCat("shape ", ShapeToString(info.shape), " but ",
                                    ShapeToString(expected_shape), " was expected"));
  }
  return Get(name);
}

std::vector<std::string> Checkpoint::Names() const {
  std::vector<std::string> names;
  names.reserve(by_name_.size());
  for (const auto& [name, file] : by_name_) names.push_back(name);
  return names;
}

std::vector<std::string> Checkpoint::Unused(const std::vector<std::string>& prefixes) const {
  std::vector<std::string> unused;
  for (const auto& [name, file] : by_name_) {
    if (used_.count(name) != 0) continue;
    bool match = prefixes.empty();
    for (const std::string& p : prefixes) match = match || name.rfind(p, 0) == 0;
    if (match) unused.push_back(name);
  }
  return unused;
}

// ---------------------------------------------------------------------------------------------
// Writing

absl::StatusOr<std::unique_ptr<SafetensorsWriter>> SafetensorsWriter::Create(
    const fs::path& path, const std::map<std::string, TensorSpec>& tensors,
    const std::map<std::string, std::string>& metadata) {
  // Data is laid out by decreasing element size, then name (as HF's writer does), so every tensor
  // starts at an offset aligned for its dtype; the JSON keys themselves come out sorted.
  std::vector<const std::pair<const std::string, TensorSpec>*> order;
  for (const auto& entry : tensors) {
    const auto& [name, spec] = entry;
    if (name == "__metadata__" || name.empty() || !IsValidUtf8(name)) {
      return FileError(path, absl::StrCat("invalid tensor name \"", name, "\""));
    }
    for (int64_t d : spec.shape) {
      if (d < 0) return TensorError(path, name, absl::StrCat("negative dimension ", d));
    }
    order.push_back(&entry);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return DTypeSize(a->second.dtype) > DTypeSize(b->second.dtype);
  });

  std::unique_ptr<SafetensorsWriter> w(new SafetensorsWriter());
  w->path_ = path;
  json header = json::object();
  uint64_t offset = 0;
  for (const auto* entry : order) {
    const TensorSpec& spec = entry->second;
    const uint64_t nbytes = static_cast<uint64_t>(NumElements(spec.shape)) * DTypeSize(spec.dtype);
    header[entry->first] = {{"dtype", DTypeName(spec.dtype)},
                            {"shape", spec.shape},
                            {"data_offsets", {offset, offset + nbytes}}};
    w->order_.push_back(entry->first);
    w->tensors_[entry->first] = TensorInfo{spec.dtype, spec.shape, offset, offset + nbytes};
    offset += nbytes;
  }
  w->data_size_ = offset;
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& [key, value] : metadata) {
      if (!IsValidUtf8(key) || !IsValidUtf8(value)) {
        return FileError(path, absl::StrCat("metadata entry \"", key, "\" is not valid UTF-8"));
      }
      meta[key] = value;
    }
    header["__metadata__"] = std::move(meta);
  }
  // Names were validated above; `replace` only guarantees dump() cannot throw.
  std::string header_text = header.dump(-1, ' ', false, json::error_handler_t::replace);
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  uint8_t len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(header_text.size() >> (8 * i));
  w->file_size_ = 8 + header_text.size() + w->data_size_;

  // A sibling temp file renamed over `path` in Finish(), so readers never see a partial file.
  w->tmp_path_ = path.string() + ".tmp.XXXXXX";
  w->fd_ = ::mkstemp(w->tmp_path_.data());
  if (w->fd_ < 0) {
    absl::Status s = ErrnoError(errno, path, "cannot create temporary file");
    w->tmp_path_.clear();
    return s;
  }
  if (::fchmod(w->fd_, 0644) != 0) return ErrnoError(errno, path, "fchmod failed");
  if (!WriteAll(w->fd_, len_bytes, 8) ||
      !WriteAll(w->fd_, header_text.data(), header_text.size())) {
    return ErrnoError(errno, path, "write failed");
  }
  return w;
}

SafetensorsWriter::~SafetensorsWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

absl::Status SafetensorsWriter::Append(const void* data, size_t size) {
  if (failed_ || fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_.string(), ": writer already failed or finished"));
  }
  if (size > data_size_ - appended_) {
    failed_ = true;
    return FileError(path_, absl::StrCat("append of ", size, " bytes at ", appended_,
                                         " runs past the end of the ", data_size_,
                                         "-byte data block"));
  }
  if (!WriteAll(fd_, data, size)) {
    failed_ = true;
    return ErrnoError(errno, path_, "write failed");
  }
  appended_ += size;
  return absl::OkStatus();
}

absl::Status SafetensorsWriter::Finish() {
  if (failed_ || fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_.string(), ": writer already failed or finished"));
  }
  if (appended_ != data_size_) {
    return absl::FailedPreconditionError(absl::StrCat(path_.string(), ": only ", appended_, " of ",
                                                      data_size_, " data bytes were appended"));
  }
  failed_ = true;  // whatever happens below, the writer is done
  if (::fsync(fd_) != 0) return ErrnoError(errno, path_, "fsync failed");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return ErrnoError(errno, path_, "close failed");
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return ErrnoError(errno, path_, "rename of temporary file failed");
  }
  tmp_path_.clear();  // renamed: nothing left to remove
  return absl::OkStatus();
}

absl::Status WriteSafetensors(const fs::path& path, const std::map<std::string, Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::map<std::string, TensorSpec> specs;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || name.empty() || !IsValidUtf8(name)) {
      return FileError(path, absl::StrCat("invalid tensor name \"", name, "\""));
    }
    if (t.device() != Device::kCpu) return TensorError(path, name, "not a CPU tensor");
    if (t.raw_data() == nullptr && t.nbytes() > 0) return TensorError(path, name, "has no data");
    specs.emplace(name, TensorSpec{t.dtype(), t.shape()});
  }
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsWriter> writer,
                        SafetensorsWriter::Create(path, specs, metadata));
  for (const std::string& name : writer->order()) {
    const Tensor& t = tensors.at(name);
    QWEN_RETURN_IF_ERROR(writer->Append(t.raw_data(), t.nbytes()));
  }
  return writer->Finish();
}

}  // namespace qwen::core
