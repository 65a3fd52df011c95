#include "vision_service/preprocess/preprocess_config.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace qwen::vision {
namespace {

using json = nlohmann::json;

// Reads typed optional fields of one JSON object; errors name the file and the field.
class FieldReader {
 public:
  FieldReader(const json& obj, std::string source, std::string prefix = "")
      : obj_(obj), source_(std::move(source)), prefix_(std::move(prefix)) {}

  const json* Find(const char* key) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;  // JSON null = "not set", as in HF
    return &*it;
  }
  absl::Status Error(const char* key, std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": field '", prefix_, key, "' ", std::string(what)));
  }
  absl::Status Bool(const char* key, bool* out) const {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_boolean()) return Error(key, absl::StrCat("must be true or false, got ", v->dump()));
    *out = v->get<bool>();
    return absl::OkStatus();
  }
  absl::Status Int(const char* key, std::optional<int64_t>* out, int64_t min_value) const {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    // Accept 4096 and 4096.0 (Python may write either), nothing fractional.
    if (!v->is_number() ||
        (v->is_number_float() && std::floor(v->get<double>()) != v->get<double>())) {
      return Error(key, absl::StrCat("must be an integer, got ", v->dump()));
    }
    const double d = v->get<double>();
    if (d < static_cast<double>(min_value) || d > 9.0e15) {
      return Error(key, absl::StrCat("must be an integer >= ", min_value, ", got ", v->dump()));
    }
    *out = v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(d);
    return absl::OkStatus();
  }
  absl::Status Int(const char* key, int64_t* out, int64_t min_value) const {
    std::optional<int64_t> v;
    QWEN_RETURN_IF_ERROR(Int(key, &v, min_value));
    if (v) *out = *v;
    return absl::OkStatus();
  }
  absl::Status RequiredInt(const char* key, int64_t* out, int64_t min_value) const {
    if (Find(key) == nullptr) return Error(key, "is missing (required)");
    return Int(key, out, min_value);
  }
  absl::Status PositiveDouble(const char* key, std::optional<double>* out) const {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number() || !(v->get<double>() > 0) || !std::isfinite(v->get<double>())) {
      return Error(key, absl::StrCat("must be a positive number, got ", v->dump()));
    }
    *out = v->get<double>();
    return absl::OkStatus();
  }
  // A number (broadcast to the 3 channels) or a list of 3 numbers.
  absl::Status RequiredTriple(const char* key, std::array<double, 3>* out, bool nonzero) const {
    const json* v = Find(key);
    if (v == nullptr) return Error(key, "is missing (required)");
    std::array<double, 3> r;
    if (v->is_number()) {
      r.fill(v->get<double>());
    } else if (v->is_array() && v->size() == 3 && (*v)[0].is_number() && (*v)[1].is_number() &&
               (*v)[2].is_number()) {
      for (int c = 0; c < 3; ++c) r[c] = (*v)[c].get<double>();
    } else {
      return Error(key, absl::StrCat("must be a number or a list of 3 numbers, got ", v->dump()));
    }
    for (double x : r) {
      if (!std::isfinite(x) || (nonzero && x == 0)) {
        return Error(key, absl::StrCat("must hold finite", nonzero ? " non-zero" : "",
                                       " values, got ", v->dump()));
      }
    }
    *out = r;
    return absl::OkStatus();
  }

 private:
  const json& obj_;
  std::string source_;
  std::string prefix_;
};

absl::StatusOr<json> ParseObject(std::string_view text, const std::string& source) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  if (!j.is_object())
    return absl::InvalidArgumentError(absl::StrCat(source, ": top level must be a JSON object"));
  return j;
}

// The fields shared by the image and the video processor.
absl::Status ParseCommon(const json& j, const std::string& source, ImageProcessorConfig* cfg) {
  FieldReader r(j, source);
  QWEN_RETURN_IF_ERROR(r.Bool("do_resize", &cfg->do_resize));
  QWEN_RETURN_IF_ERROR(r.Bool("do_rescale", &cfg->do_rescale));
  QWEN_RETURN_IF_ERROR(r.Bool("do_normalize", &cfg->do_normalize));
  QWEN_RETURN_IF_ERROR(r.Bool("do_convert_rgb", &cfg->do_convert_rgb));
  QWEN_RETURN_IF_ERROR(r.RequiredInt("patch_size", &cfg->patch_size, 1));
  QWEN_RETURN_IF_ERROR(r.RequiredInt("temporal_patch_size", &cfg->temporal_patch_size, 1));
  QWEN_RETURN_IF_ERROR(r.RequiredInt("merge_size", &cfg->merge_size, 1));
  if (cfg->patch_size > 1024 || cfg->temporal_patch_size > 64 || cfg->merge_size > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": patch_size ", cfg->patch_size, " / temporal_patch_size ",
                     cfg->temporal_patch_size, " / merge_size ", cfg->merge_size, " out of range"));
  }
  QWEN_RETURN_IF_ERROR(r.RequiredTriple("image_mean", &cfg->image_mean, /*nonzero=*/false));
  QWEN_RETURN_IF_ERROR(r.RequiredTriple("image_std", &cfg->image_std, /*nonzero=*/true));
  std::optional<double> rescale;
  QWEN_RETURN_IF_ERROR(r.PositiveDouble("rescale_factor", &rescale));
  if (rescale) cfg->rescale_factor = *rescale;
  std::optional<int64_t> resample;
  QWEN_RETURN_IF_ERROR(r.Int("resample", &resample, 0));
  if (resample && *resample != 3) {
    return absl::UnimplementedError(
        absl::StrCat(source, ": field 'resample' is ", *resample,
                     "; only 3 (BICUBIC, the Qwen3.5 value) is implemented"));
  }

  // min/max pixels: `size` first, then the legacy top-level keys override it (HF's constructor
  // does `size["shortest_edge"] = min_pixels` when min_pixels is given).
  std::optional<int64_t> min_px, max_px;
  if (const json* size = r.Find("size")) {
    if (!size->is_object())
      return r.Error("size", absl::StrCat("must be an object, got ", size->dump()));
    FieldReader s(*size, source, "size.");
    QWEN_RETURN_IF_ERROR(s.Int("shortest_edge", &min_px, 1));
    QWEN_RETURN_IF_ERROR(s.Int("longest_edge", &max_px, 1));
    if (!min_px) QWEN_RETURN_IF_ERROR(s.Int("min_pixels", &min_px, 1));
    if (!max_px) QWEN_RETURN_IF_ERROR(s.Int("max_pixels", &max_px, 1));
  }
  QWEN_RETURN_IF_ERROR(r.Int("min_pixels", &min_px, 1));
  QWEN_RETURN_IF_ERROR(r.Int("max_pixels", &max_px, 1));
  if (!min_px || !max_px) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": field 'size.shortest_edge' / 'size.longest_edge' (min/max pixels; or legacy "
        "'min_pixels' / 'max_pixels') is missing"));
  }
  if (*min_px > *max_px) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": min pixels (size.shortest_edge) ", *min_px,
                     " exceed max pixels (size.longest_edge) ", *max_px));
  }
  cfg->min_pixels = *min_px;
  cfg->max_pixels = *max_px;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path.string()));
  return ss.str();
}

}  // namespace

ImageProcessorConfig Qwen35ImageProcessorConfig() { return ImageProcessorConfig{}; }
VideoProcessorConfig Qwen35VideoProcessorConfig() { return VideoProcessorConfig{}; }

absl::StatusOr<ImageProcessorConfig> ParseImageProcessorConfig(std::string_view json_text,
                                                               std::string_view source) {
  const std::string src(source);
  QWEN_ASSIGN_OR_RETURN(json j, ParseObject(json_text, src));
  ImageProcessorConfig cfg;
  QWEN_RETURN_IF_ERROR(ParseCommon(j, src, &cfg));
  return cfg;
}

absl::StatusOr<VideoProcessorConfig> ParseVideoProcessorConfig(std::string_view json_text,
                                                               std::string_view source) {
  const std::string src(source);
  QWEN_ASSIGN_OR_RETURN(json j, ParseObject(json_text, src));
  VideoProcessorConfig cfg;
  QWEN_RETURN_IF_ERROR(ParseCommon(j, src, &cfg.image));
  FieldReader r(j, src);
  QWEN_RETURN_IF_ERROR(r.Bool("do_sample_frames", &cfg.do_sample_frames));
  if (r.Find("fps") == nullptr && j.contains("fps"))
    cfg.fps.reset();  // explicit null: no fps sampling
  QWEN_RETURN_IF_ERROR(r.PositiveDouble("fps", &cfg.fps));
  QWEN_RETURN_IF_ERROR(r.Int("num_frames", &cfg.num_frames, 1));
  QWEN_RETURN_IF_ERROR(r.Int("min_frames", &cfg.min_frames, 1));
  QWEN_RETURN_IF_ERROR(r.Int("max_frames", &cfg.max_frames, 1));
  QWEN_RETURN_IF_ERROR(r.Bool("cap_pixels_per_frame", &cfg.cap_pixels_per_frame));
  if (cfg.min_frames > cfg.max_frames) {
    return absl::InvalidArgumentError(
        absl::StrCat(src, ": min_frames ", cfg.min_frames, " exceeds max_frames ", cfg.max_frames));
  }
  return cfg;
}

absl::StatusOr<ImageProcessorConfig> LoadImageProcessorConfig(const std::filesystem::path& path) {
  QWEN_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseImageProcessorConfig(text, path.string());
}

absl::StatusOr<VideoProcessorConfig> LoadVideoProcessorConfig(const std::filesystem::path& path) {
  QWEN_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseVideoProcessorConfig(text, path.string());
}

}  // namespace qwen::vision
