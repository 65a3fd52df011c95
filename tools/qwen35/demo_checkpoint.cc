#include "tools/qwen35/demo_checkpoint.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <thread>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace qwen::tools {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kIndexFile[] = "model.safetensors.index.json";
constexpr char kSingleFile[] = "model.safetensors";
// Bumped whenever the bytes written for given options change, so older markers stop matching.
constexpr int kGeneratorVersion = 1;

// The original demo generator: one std::mt19937_64 stream, tensors drawn in DemoCheckpointTensors
// order. Kept exactly as it was: tests and demo bundles depend on its bytes.
class SequentialInitialiser {
 public:
  explicit SequentialInitialiser(uint64_t seed) : rng_(seed) {}
  core::Tensor Normal(const DemoTensor& t) {
    core::Tensor out = core::Tensor::Zeros(t.shape, t.dtype);
    std::normal_distribution<float> dist(t.mean, t.std);
    if (t.dtype == core::DType::kF32) {
      auto* p = out.data<float>();
      for (int64_t i = 0; i < out.numel(); ++i) p[i] = dist(rng_);
    } else {
      auto* p = out.data<core::BFloat16>();
      for (int64_t i = 0; i < out.numel(); ++i) p[i] = core::F32ToBF16(dist(rng_));
    }
    return out;
  }

 private:
  std::mt19937_64 rng_;
};

// --- kParallel values: a pure function of (seed, tensor name, element index) ---

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;

// SplitMix64's output function: indexing the state key + i * golden gives a counter-based
// generator, so any element can be drawn without drawing the ones before it.
inline uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t TensorKey(uint64_t seed, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return Mix(Mix(seed + kGolden) ^ Mix(h + 2 * kGolden));
}

// The standard normal quantiles of the 65536 midpoints (k + 0.5) / 65536: a 16-bit uniform draw
// looked up here is a normal sample (to 16-bit resolution, so |x| < 4.4 and no value can
// overflow however it is scaled), and one 64-bit hash yields four of them.
const std::vector<float>& NormalQuantiles() {
  static const std::vector<float> table = [] {
    std::vector<float> q(65536);
    for (int k = 0; k < 32768; ++k) {
      // Solve Phi(x) = p for the upper half by bisection; the lower half is its mirror image.
      const double p = (32768 + k + 0.5) / 65536.0;
      double lo = 0, hi = 8;
      for (int it = 0; it < 60; ++it) {
        const double mid = 0.5 * (lo + hi);
        (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
      }
      q[32768 + k] = static_cast<float>(0.5 * (lo + hi));
      q[32767 - k] = -q[32768 + k];
    }
    return q;
  }();
  return table;
}

template <typename T>
void FillRangeAs(const DemoTensor& t, uint64_t key, uint64_t first, uint64_t count, T* out) {
  const float* q = NormalQuantiles().data();
  auto value = [&](uint64_t r, int lane) {
    const float x = t.mean + t.std * q[(r >> (16 * lane)) & 0xffff];
    if constexpr (std::is_same_v<T, float>) {
      return x;
    } else {
      return core::F32ToBF16(x);
    }
  };
  // Element e is lane e % 4 of the hash of group e / 4; whole groups are unrolled.
  uint64_t e = first;
  const uint64_t end = first + count;
  for (; e < end && (e & 3) != 0; ++e) *out++ = value(Mix(key + ((e >> 2) + 1) * kGolden), e & 3);
  for (; e + 4 <= end; e += 4, out += 4) {
    const uint64_t r = Mix(key + ((e >> 2) + 1) * kGolden);
    out[0] = value(r, 0);
    out[1] = value(r, 1);
    out[2] = value(r, 2);
    out[3] = value(r, 3);
  }
  for (; e < end; ++e) *out++ = value(Mix(key + ((e >> 2) + 1) * kGolden), e & 3);
}

void FillRange(const DemoTensor& t, uint64_t key, uint64_t first, uint64_t count, uint8_t* out) {
  if (t.dtype == core::DType::kF32) {
    FillRangeAs(t, key, first, count, reinterpret_cast<float*>(out));
  } else {
    FillRangeAs(t, key, first, count, reinterpret_cast<core::BFloat16*>(out));
  }
}

// Elements [first, first + count) of `t` into `out`, split over `threads` threads when large.
void Fill(const DemoTensor& t, uint64_t key, uint64_t first, uint64_t count, uint8_t* out,
          int threads) {
  constexpr uint64_t kMinPerThread = 1 << 18;
  const uint64_t n = std::clamp<uint64_t>(count / kMinPerThread, 1, threads);
  if (n == 1) return FillRange(t, key, first, count, out);
  const size_t esize = core::DTypeSize(t.dtype);
  std::vector<std::thread> pool;
  for (uint64_t k = 0; k < n; ++k) {
    const uint64_t b = count * k / n, e = count * (k + 1) / n;
    pool.emplace_back(FillRange, std::cref(t), key, first + b, e - b, out + b * esize);
  }
  for (std::thread& th : pool) th.join();
}

// Progress lines ("3.2 / 18.8 GB (17%), 950 MB/s") at most every two seconds.
class Progress {
 public:
  Progress(uint64_t total, bool enabled) : total_(total), enabled_(enabled) {}
  void Add(uint64_t bytes) {
    done_ += bytes;
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(2) && done_ < total_) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "[make-demo-checkpoint] %.2f / %.2f GB (%.0f%%), %.0f MB/s\n", done_ / 1e9,
                 total_ / 1e9, 100.0 * done_ / std::max<uint64_t>(total_, 1),
                 s > 0 ? done_ / 1e6 / s : 0.0);
  }

 private:
  uint64_t total_, done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

// Streams one safetensors file of kParallel values: chunks are filled on the fill threads while
// the previous chunk is written on another, so generation and I/O overlap and memory stays at two
// chunks whatever the file size.
absl::Status StreamShard(const fs::path& path, const std::vector<const DemoTensor*>& tensors,
                         const DemoCheckpointOptions& o, int threads, Progress* progress) {
  std::map<std::string, core::TensorSpec> specs;
  std::map<std::string, const DemoTensor*> by_name;
  for (const DemoTensor* t : tensors) {
    specs[t->name] = core::TensorSpec{t->dtype, t->shape};
    by_name[t->name] = t;
  }
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<core::SafetensorsWriter> writer,
                        core::SafetensorsWriter::Create(path, specs, {{"format", "pt"}}));
  // 64 MiB chunks (smaller for a small file); uninitialised, every byte is filled before use.
  const size_t chunk_bytes =
      static_cast<size_t>(std::min<uint64_t>(uint64_t{64} << 20, writer->data_size()));
  std::unique_ptr<uint8_t[]> buffers[2] = {std::make_unique_for_overwrite<uint8_t[]>(chunk_bytes),
                                           std::make_unique_for_overwrite<uint8_t[]>(chunk_bytes)};
  // Declared after the writer and buffers so that it is destroyed (waited for) before them.
  std::future<absl::Status> pending;
  const std::vector<std::string>& order = writer->order();
  size_t ti = 0;      // tensor being filled
  uint64_t elem = 0;  // next element of that tensor
  uint64_t key = order.empty() ? 0 : TensorKey(o.seed, order[0]);
  for (int b = 0; ti < order.size(); b ^= 1) {
    uint8_t* chunk = buffers[b].get();
    size_t used = 0;
    while (ti < order.size()) {
      const DemoTensor& t = *by_name.at(order[ti]);
      const size_t esize = core::DTypeSize(t.dtype);
      const uint64_t numel = static_cast<uint64_t>(core::NumElements(t.shape));
      const uint64_t take = std::min<uint64_t>((chunk_bytes - used) / esize, numel - elem);
      if (take == 0 && elem < numel) break;  // chunk full
      Fill(t, key, elem, take, chunk + used, threads);
      used += take * esize;
      elem += take;
      if (elem == numel) {
        elem = 0;
        if (++ti < order.size()) key = TensorKey(o.seed, order[ti]);
      }
    }
    if (pending.valid()) QWEN_RETURN_IF_ERROR(pending.get());
    pending = std::async(std::launch::async, [&writer, chunk, used, progress] {
      absl::Status s = writer->Append(chunk, used);
      if (s.ok()) progress->Add(used);
      return s;
    });
  }
  if (pending.valid()) QWEN_RETURN_IF_ERROR(pending.get());
  return writer->Finish();
}

absl::Status WriteTextFile(const fs::path& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

absl::Status WriteJson(const fs::path& path, const json& j) {
  return WriteTextFile(path, j.dump(2) + "\n");
}

int64_t Intermediate(const DemoCheckpointOptions& o) {
  return o.intermediate_size > 0 ? o.intermediate_size : 2 * o.hidden_size;
}

int64_t VisionOut(const DemoCheckpointOptions& o) {
  return o.vision_out_hidden_size > 0 ? o.vision_out_hidden_size : o.hidden_size;
}

absl::Status Validate(const DemoCheckpointOptions& o) {
  for (auto [name, v] : std::initializer_list<std::pair<const char*, int64_t>>{
           {"hidden_size", o.hidden_size},
           {"num_layers", o.num_layers},
           {"vocab_size", o.vocab_size},
           {"intermediate_size", Intermediate(o)},
           {"num_attention_heads", o.num_attention_heads},
           {"num_key_value_heads", o.num_key_value_heads},
           {"head_dim", o.head_dim},
           {"linear_num_key_heads", o.linear_num_key_heads},
           {"linear_num_value_heads", o.linear_num_value_heads},
           {"linear_key_head_dim", o.linear_key_head_dim},
           {"linear_value_head_dim", o.linear_value_head_dim},
           {"vision_depth", o.vision_depth},
           {"vision_hidden_size", o.vision_hidden_size},
           {"vision_intermediate_size", o.vision_intermediate_size},
           {"vision_num_heads", o.vision_num_heads},
           {"vision_out_hidden_size", VisionOut(o)}}) {
    if (v <= 0) return absl::InvalidArgumentError(absl::StrCat(name, " must be positive, not ", v));
  }
  if (o.num_attention_heads % o.num_key_value_heads != 0 ||
      o.linear_num_value_heads % o.linear_num_key_heads != 0) {
    return absl::InvalidArgumentError(
        "query heads must be a multiple of KV heads and DeltaNet value heads of key heads");
  }
  if (o.vision_hidden_size % o.vision_num_heads != 0) {
    return absl::InvalidArgumentError("vision_hidden_size must be a multiple of vision_num_heads");
  }
  const int64_t rotary = static_cast<int64_t>(o.head_dim * 0.25);
  if (o.mrope_section[0] + o.mrope_section[1] + o.mrope_section[2] != rotary / 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("mrope_section must sum to head_dim * 0.25 / 2 = ", rotary / 2,
                     " for head_dim ", o.head_dim));
  }
  for (int64_t id : {o.image_token_id, o.video_token_id, o.vision_start_token_id,
                     o.vision_end_token_id, o.pad_token_id}) {
    if (id < 0 || id >= o.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("special token id ", id, " is outside the vocabulary of ", o.vocab_size));
    }
  }
  return absl::OkStatus();
}

json ConfigJson(const DemoCheckpointOptions& o) {
  json layer_types = json::array();
  for (int64_t i = 0; i < o.num_layers; ++i) {
    layer_types.push_back((i + 1) % 4 == 0 ? "full_attention" : "linear_attention");
  }
  json text = {
      {"model_type", "qwen3_5_text"},
      {"vocab_size", o.vocab_size},
      {"hidden_size", o.hidden_size},
      {"intermediate_size", Intermediate(o)},
      {"num_hidden_layers", o.num_layers},
      {"num_attention_heads", o.num_attention_heads},
      {"num_key_value_heads", o.num_key_value_heads},
      {"head_dim", o.head_dim},
      {"hidden_act", "silu"},
      {"rms_norm_eps", 1e-6},
      {"max_position_embeddings", 262144},
      {"linear_conv_kernel_dim", 4},
      {"linear_key_head_dim", o.linear_key_head_dim},
      {"linear_value_head_dim", o.linear_value_head_dim},
      {"linear_num_key_heads", o.linear_num_key_heads},
      {"linear_num_value_heads", o.linear_num_value_heads},
      {"layer_types", layer_types},
      {"full_attention_interval", 4},
      {"attn_output_gate", true},
      {"mamba_ssm_dtype", "float32"},
      {"tie_word_embeddings", o.tie_word_embeddings},
      {"rope_parameters",
       {{"rope_type", "default"},
        {"rope_theta", 10000000},
        {"partial_rotary_factor", 0.25},
        {"mrope_section", o.mrope_section},
        {"mrope_interleaved", true}}},
  };
  json vision = {
      {"model_type", "qwen3_5_vision"},
      {"depth", o.vision_depth},
      {"hidden_size", o.vision_hidden_size},
      {"hidden_act", "gelu_pytorch_tanh"},
      {"intermediate_size", o.vision_intermediate_size},
      {"num_heads", o.vision_num_heads},
      {"in_channels", 3},
      {"patch_size", 16},
      {"spatial_merge_size", 2},
      {"temporal_patch_size", 2},
      {"out_hidden_size", VisionOut(o)},
      {"num_position_embeddings", 2304},
      {"deepstack_visual_indexes", json::array()},
  };
  return {
      {"architectures", {"Qwen3_5ForConditionalGeneration"}},
      {"model_type", "qwen3_5"},
      {"text_config", text},
      {"vision_config", vision},
      {"image_token_id", o.image_token_id},
      {"video_token_id", o.video_token_id},
      {"vision_start_token_id", o.vision_start_token_id},
      {"vision_end_token_id", o.vision_end_token_id},
      {"tie_word_embeddings", o.tie_word_embeddings},
      {"transformers_version", "5.17.0"},
  };
}

json GenerationJson(const DemoCheckpointOptions& o) {
  return {{"bos_token_id", o.pad_token_id},
          {"eos_token_id", o.eos_token_ids},
          {"pad_token_id", o.pad_token_id},
          {"do_sample", true},
          {"temperature", 1.0},
          {"top_k", 20},
          {"top_p", 0.95}};
}

uint64_t NumBytes(const DemoTensor& t) {
  return static_cast<uint64_t>(core::NumElements(t.shape)) * core::DTypeSize(t.dtype);
}

// Weight file name -> its tensors. One model.safetensors, or HF-style shards filled in generation
// order (which is module order, as HF's save_pretrained fills them).
std::map<std::string, std::vector<const DemoTensor*>> AssignFiles(
    const std::vector<DemoTensor>& tensors, uint64_t shard_bytes) {
  std::map<std::string, std::vector<const DemoTensor*>> files;
  if (shard_bytes == 0) {
    for (const DemoTensor& t : tensors) files[kSingleFile].push_back(&t);
    return files;
  }
  std::vector<std::vector<const DemoTensor*>> shards(1);
  uint64_t bytes = 0;
  for (const DemoTensor& t : tensors) {
    if (!shards.back().empty() && bytes + NumBytes(t) > shard_bytes) {
      shards.emplace_back();
      bytes = 0;
    }
    shards.back().push_back(&t);
    bytes += NumBytes(t);
  }
  if (shards.size() == 1) {  // as HF: a checkpoint that fits one shard has no index
    files[kSingleFile] = std::move(shards[0]);
    return files;
  }
  for (size_t i = 0; i < shards.size(); ++i) {
    files[absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, shards.size())] =
        std::move(shards[i]);
  }
  return files;
}

bool IsShardName(const std::string& name) {
  // model-00001-of-00004.safetensors
  if (name.size() != 32 || name.rfind("model-", 0) != 0 || name.substr(11, 4) != "-of-" ||
      name.substr(20) != ".safetensors") {
    return false;
  }
  return std::all_of(name.begin() + 6, name.begin() + 11, ::isdigit) &&
         std::all_of(name.begin() + 15, name.begin() + 20, ::isdigit);
}

// Removes weight files of an earlier write that the new layout does not overwrite, so loaders
// (which prefer the index over model.safetensors) never mix two checkpoints.
absl::Status RemoveStaleWeights(
    const fs::path& dir, const std::map<std::string, std::vector<const DemoTensor*>>& files) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool weights = name == kSingleFile || name == kIndexFile || IsShardName(name);
    if (weights && files.count(name) == 0) stale.push_back(entry.path());
  }
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  }
  for (const fs::path& p : stale) {
    if (!fs::remove(p, ec) && ec) {
      return absl::InternalError(absl::StrCat("cannot remove ", p.string(), ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

// Everything that decides the bytes written (not threads or progress).
json Describe(const DemoCheckpointOptions& o) {
  return {{"generator_version", kGeneratorVersion},
          {"seed", o.seed},
          {"config", ConfigJson(o)},
          {"generation_config", GenerationJson(o)},
          {"matrix_std", o.matrix_std},
          {"norm_std", o.norm_std},
          {"f32_linear_attn_params", o.f32_linear_attn_params},
          {"init", o.init == DemoInit::kParallel ? "parallel" : "sequential"},
          {"shard_bytes", o.shard_bytes}};
}

bool MarkerMatches(const fs::path& dir, const json& want) {
  std::ifstream in(dir / kDemoCheckpointMarker);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  json marker = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!marker.is_object() || marker.value("options", json()) != want) return false;
  const json files = marker.value("files", json());
  if (!files.is_object() || files.empty()) return false;
  for (const auto& [name, size] : files.items()) {
    std::error_code ec;
    const uintmax_t actual = fs::file_size(dir / name, ec);
    if (ec || !size.is_number_unsigned() || actual != size.get<uint64_t>()) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<DemoCheckpointOptions> Qwen35Preset(std::string_view name) {
  DemoCheckpointOptions o;
  if (name == "demo") return o;
  if (name == "9b") {
    o.hidden_size = 4096;
    o.num_layers = 32;
    o.vocab_size = 248320;
    o.tie_word_embeddings = false;
    o.intermediate_size = 12288;
    o.num_attention_heads = 16;
    o.num_key_value_heads = 4;
    o.head_dim = 256;
    o.linear_num_key_heads = 16;
    o.linear_num_value_heads = 32;
    o.linear_key_head_dim = 128;
    o.linear_value_head_dim = 128;
    o.mrope_section = {11, 11, 10};
    o.vision_depth = 27;
    o.vision_hidden_size = 1152;
    o.vision_intermediate_size = 4304;
    o.vision_num_heads = 16;
    o.vision_out_hidden_size = 0;  // = hidden_size (4096), also when --hidden-size overrides it
    // HF's initializer_range, close to 1/sqrt(4096): every sublayer starts from a normed input,
    // so its output stays O(1) and the residual stream grows only slowly over 32 layers.
    o.matrix_std = 0.02f;
    o.norm_std = 0.02f;
    o.f32_linear_attn_params = true;
    o.init = DemoInit::kParallel;
    o.shard_bytes = 5'000'000'000;
    return o;
  }
  return absl::NotFoundError(
      absl::StrCat("unknown preset \"", std::string(name), "\" (known: demo, 9b)"));
}

std::vector<DemoTensor> DemoCheckpointTensors(const DemoCheckpointOptions& o) {
  using core::DType;
  const int64_t h = o.hidden_size, inter = Intermediate(o), hq = o.num_attention_heads;
  const int64_t hkv = o.num_key_value_heads, d = o.head_dim;
  const int64_t hk = o.linear_num_key_heads, hv = o.linear_num_value_heads;
  const int64_t dk = o.linear_key_head_dim, dv = o.linear_value_head_dim, kconv = 4;
  const int64_t conv_dim = 2 * hk * dk + hv * dv;
  const int64_t vh = o.vision_hidden_size, vinter = o.vision_intermediate_size;
  const int64_t vdepth = o.vision_depth, vpos = 2304, vout = VisionOut(o);
  const DType f32_params = o.f32_linear_attn_params ? DType::kF32 : DType::kBF16;

  std::vector<DemoTensor> w;
  auto normal = [&](std::string name, core::Shape shape, float mean, float std,
                    DType dtype = DType::kBF16) {
    w.push_back({std::move(name), dtype, std::move(shape), mean, std});
  };
  auto linear = [&](std::string name, int64_t out, int64_t in) {
    normal(std::move(name), {out, in}, 0.0f,
           o.matrix_std > 0 ? o.matrix_std : 1.0f / std::sqrt(static_cast<float>(in)));
  };
  const std::string t = "model.language_model.";
  normal(t + "embed_tokens.weight", {o.vocab_size, h}, 0.0f,
         o.matrix_std > 0 ? o.matrix_std : 1.0f);
  normal(t + "norm.weight", {h}, 0.0f, o.norm_std);
  if (!o.tie_word_embeddings) linear("lm_head.weight", o.vocab_size, h);
  for (int64_t i = 0; i < o.num_layers; ++i) {
    std::string p = absl::StrCat(t, "layers.", i, ".");
    normal(p + "input_layernorm.weight", {h}, 0.0f, o.norm_std);
    normal(p + "post_attention_layernorm.weight", {h}, 0.0f, o.norm_std);
    linear(p + "mlp.gate_proj.weight", inter, h);
    linear(p + "mlp.up_proj.weight", inter, h);
    linear(p + "mlp.down_proj.weight", h, inter);
    if ((i + 1) % 4 == 0) {
      linear(p + "self_attn.q_proj.weight", 2 * hq * d, h);
      linear(p + "self_attn.k_proj.weight", hkv * d, h);
      linear(p + "self_attn.v_proj.weight", hkv * d, h);
      linear(p + "self_attn.o_proj.weight", h, hq * d);
      normal(p + "self_attn.q_norm.weight", {d}, 0.0f, o.norm_std);
      normal(p + "self_attn.k_norm.weight", {d}, 0.0f, o.norm_std);
    } else {
      linear(p + "linear_attn.in_proj_qkv.weight", conv_dim, h);
      linear(p + "linear_attn.in_proj_z.weight", hv * dv, h);
      linear(p + "linear_attn.in_proj_b.weight", hv, h);
      linear(p + "linear_attn.in_proj_a.weight", hv, h);
      // A 4-tap depthwise filter, not a matrix: unit-ish gain whatever the model width.
      normal(p + "linear_attn.conv1d.weight", {conv_dim, 1, kconv}, 0.0f, 0.5f);
      // softplus(a + dt_bias) around 1 and A = exp(A_log) around e: per-token decays
      // exp(-A * softplus) well inside (0, 1), as in a trained model.
      normal(p + "linear_attn.dt_bias", {hv}, 0.0f, 0.5f);
      normal(p + "linear_attn.A_log", {hv}, 1.0f, 0.5f, f32_params);
      // The gated norm's weight is plain (no 1 +): neutral at 1.
      normal(p + "linear_attn.norm.weight", {dv}, 1.0f, o.norm_std, f32_params);
      linear(p + "linear_attn.out_proj.weight", h, hv * dv);
    }
  }
  const std::string v = "model.visual.";
  const int64_t patch_in = 3 * 2 * 16 * 16;
  normal(v + "patch_embed.proj.weight", {vh, 3, 2, 16, 16}, 0.0f,
         o.matrix_std > 0 ? o.matrix_std : 1.0f / std::sqrt(static_cast<float>(patch_in)));
  normal(v + "patch_embed.proj.bias", {vh}, 0.0f, 0.02f);
  normal(v + "pos_embed.weight", {vpos, vh}, 0.0f, 0.02f);
  for (int64_t j = 0; j < vdepth; ++j) {
    std::string p = absl::StrCat(v, "blocks.", j, ".");
    for (const char* ln : {"norm1", "norm2"}) {
      normal(p + ln + ".weight", {vh}, 1.0f, o.norm_std);  // LayerNorm: neutral at 1
      normal(p + ln + ".bias", {vh}, 0.0f, 0.02f);
    }
    linear(p + "attn.qkv.weight", 3 * vh, vh);
    normal(p + "attn.qkv.bias", {3 * vh}, 0.0f, 0.02f);
    linear(p + "attn.proj.weight", vh, vh);
    normal(p + "attn.proj.bias", {vh}, 0.0f, 0.02f);
    linear(p + "mlp.linear_fc1.weight", vinter, vh);
    normal(p + "mlp.linear_fc1.bias", {vinter}, 0.0f, 0.02f);
    linear(p + "mlp.linear_fc2.weight", vh, vinter);
    normal(p + "mlp.linear_fc2.bias", {vh}, 0.0f, 0.02f);
  }
  normal(v + "merger.norm.weight", {vh}, 1.0f, o.norm_std);
  normal(v + "merger.norm.bias", {vh}, 0.0f, 0.02f);
  linear(v + "merger.linear_fc1.weight", 4 * vh, 4 * vh);
  normal(v + "merger.linear_fc1.bias", {4 * vh}, 0.0f, 0.02f);
  linear(v + "merger.linear_fc2.weight", vout, 4 * vh);
  normal(v + "merger.linear_fc2.bias", {vout}, 0.0f, 0.02f);
  return w;
}

std::vector<std::string> DemoCheckpointFiles(const DemoCheckpointOptions& o) {
  const std::vector<DemoTensor> tensors = DemoCheckpointTensors(o);
  std::vector<std::string> names;
  for (const auto& [file, members] : AssignFiles(tensors, o.shard_bytes)) names.push_back(file);
  return names;
}

absl::Status WriteDemoCheckpointConfig(const fs::path& dir, const DemoCheckpointOptions& o) {
  QWEN_RETURN_IF_ERROR(Validate(o));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  }
  QWEN_RETURN_IF_ERROR(WriteJson(dir / "config.json", ConfigJson(o)));
  return WriteJson(dir / "generation_config.json", GenerationJson(o));
}

absl::Status WriteDemoCheckpoint(const fs::path& dir, const DemoCheckpointOptions& o) {
  QWEN_RETURN_IF_ERROR(WriteDemoCheckpointConfig(dir, o));
  std::error_code ec;
  fs::remove(dir / kDemoCheckpointMarker, ec);  // it would describe what is about to be replaced
  const std::vector<DemoTensor> tensors = DemoCheckpointTensors(o);
  const auto files = AssignFiles(tensors, o.shard_bytes);
  QWEN_RETURN_IF_ERROR(RemoveStaleWeights(dir, files));

  uint64_t total = 0;
  for (const DemoTensor& t : tensors) total += NumBytes(t);
  const auto start = std::chrono::steady_clock::now();
  if (o.init == DemoInit::kSequential) {
    SequentialInitialiser init(o.seed);
    std::map<std::string, core::Tensor> all;
    for (const DemoTensor& t : tensors) all[t.name] = init.Normal(t);
    for (const auto& [file, members] : files) {
      std::map<std::string, core::Tensor> subset;
      for (const DemoTensor* t : members) subset[t->name] = all.at(t->name);
      QWEN_RETURN_IF_ERROR(core::WriteSafetensors(dir / file, subset, {{"format", "pt"}}));
    }
  } else {
    const int threads = o.threads > 0
                            ? o.threads
                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    const bool show = o.progress && total >= (uint64_t{1} << 30);
    if (show) {
      std::fprintf(stderr,
                   "[make-demo-checkpoint] writing %.2f GB in %zu file(s) to %s (%d threads)\n",
                   total / 1e9, files.size(), dir.string().c_str(), threads);
    }
    Progress progress(total, show);
    for (const auto& [file, members] : files) {
      QWEN_RETURN_IF_ERROR(StreamShard(dir / file, members, o, threads, &progress));
    }
    if (show) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "[make-demo-checkpoint] %.2f GB in %.1f s (%.0f MB/s including fsync)\n",
                   total / 1e9, s, total / 1e6 / s);
    }
  }
  if (files.size() > 1) {
    json weight_map = json::object();
    for (const auto& [file, members] : files) {
      for (const DemoTensor* t : members) weight_map[t->name] = file;
    }
    json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    QWEN_RETURN_IF_ERROR(WriteJson(dir / kIndexFile, index));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> EnsureDemoCheckpoint(const fs::path& dir, const DemoCheckpointOptions& o,
                                          bool force) {
  QWEN_RETURN_IF_ERROR(Validate(o));
  const json description = Describe(o);
  if (!force && MarkerMatches(dir, description)) return false;
  QWEN_RETURN_IF_ERROR(WriteDemoCheckpoint(dir, o));
  json sizes = json::object();
  for (const std::string& file : DemoCheckpointFiles(o)) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(dir / file, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot stat ", (dir / file).string()));
    sizes[file] = static_cast<uint64_t>(size);
  }
  // Written last and renamed into place: its presence means everything before it is complete.
  const fs::path marker = dir / kDemoCheckpointMarker;
  const fs::path tmp = dir / (std::string(kDemoCheckpointMarker) + ".tmp");
  QWEN_RETURN_IF_ERROR(WriteJson(tmp, {{"options", description}, {"files", sizes}}));
  std::error_code ec;
  fs::rename(tmp, marker, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot write ", marker.string(), ": ", ec.message()));
  }
  return true;
}

}  // namespace qwen::tools
