#include "core/config.h"

#include <array>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <system_error>
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

constexpr char kConditionalGeneration[] = "Qwen3_5ForConditionalGeneration";
constexpr char kCausalLm[] = "Qwen3_5ForCausalLM";
// Far above any real model (27B has 64 layers); keeps a corrupt value from allocating gigabytes.
constexpr int64_t kMaxLayers = 1 << 16;

// Typed, optional reads of one JSON object's fields. A missing or null field leaves the output
// untouched (so struct defaults, which are HF's, apply); a present field of the wrong JSON type is
// InvalidArgument naming "<source>: <prefix><key>".
class Fields {
 public:
  Fields(const json* obj, std::string prefix, const std::string* source)
      : obj_(obj), prefix_(std::move(prefix)), source_(source) {}

  // The field's value, or nullptr when absent or null.
  const json* Find(const char* key) const {
    if (obj_ == nullptr) return nullptr;
    auto it = obj_->find(key);
    return it == obj_->end() || it->is_null() ? nullptr : &*it;
  }
  std::string Name(const char* key) const { return prefix_ + key; }
  const std::string* source() const { return source_; }
  absl::Status Error(const char* key, absl::string_view msg) const {
    return absl::InvalidArgumentError(absl::StrCat(*source_, ": ", Name(key), " ", msg));
  }
  absl::Status TypeError(const char* key, const char* expected, const json& v) const {
    return Error(key, absl::StrCat("must be ", expected, ", got ", v.type_name(), " ", v.dump()));
  }

  absl::Status Int(const char* key, int64_t* out) const {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number_integer()) return TypeError(key, "an integer", *v);
    if (v->is_number_unsigned() &&
        v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Error(key, absl::StrCat("= ", v->dump(), " does not fit in 64 bits"));
    }
    *out = v->get<int64_t>();
    return absl::OkStatus();
  }
  absl::Status Int(const char* key, std::optional<int64_t>* out) const {
    if (Find(key) == nullptr) return absl::OkStatus();
    int64_t value = 0;
    QWEN_RETURN_IF_ERROR(Int(key, &value));
    *out = value;
    return absl::OkStatus();
  }
  absl::Status Double(const char* key, double* out) const {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number()) return TypeError(key, "a number", *v);
    *out = v->get<double>();
    return absl::OkStatus();
  }
  absl::Status Bool(const char* key, bool* out) const {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_boolean()) return TypeError(key, "a boolean", *v);
    *out = v->get<bool>();
    return absl::OkStatus();
  }
  absl::Status String(const char* key, std::string* out) const {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_string()) return TypeError(key, "a string", *v);
    *out = v->get<std::string>();
    return absl::OkStatus();
  }
  // A nested object field (nullptr when absent or null).
  absl::StatusOr<const json*> Object(const char* key) const {
    const json* v = Find(key);
    if (v != nullptr && !v->is_object()) return TypeError(key, "an object", *v);
    return v;
  }

 private:
  const json* obj_;
  std::string prefix_;
  const std::string* source_;  // not owned; outlives every Fields of one parse
};

absl::StatusOr<json> ParseObject(std::string_view text, const std::string& source) {
  json root = json::parse(text.data(), text.data() + text.size(), nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError(source + ": not valid JSON");
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a JSON object, got ", root.type_name()));
  }
  return root;
}

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::ErrnoToStatus(errno, absl::StrCat(path.string(), ": cannot open"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::ErrnoToStatus(errno, absl::StrCat(path.string(), ": read failed"));
  return ss.str();
}

// RoPE settings. Current HF configs keep them in text_config.rope_parameters; older ones used
// top-level rope_theta / partial_rotary_factor and rope_scaling.mrope_section (in the text config
// or, for composite configs, at the root). Each key is taken from the first place that has it.
absl::Status ParseRope(const Fields& text, const Fields& top, bool composite,
                       const std::string* source, TextConfig* cfg) {
  QWEN_ASSIGN_OR_RETURN(const json* params, text.Object("rope_parameters"));
  QWEN_ASSIGN_OR_RETURN(const json* scaling, text.Object("rope_scaling"));
  const json* top_scaling = nullptr;
  if (composite) {
    QWEN_ASSIGN_OR_RETURN(top_scaling, top.Object("rope_scaling"));
  }
  const Fields p(params, text.Name("rope_parameters."), source);
  const Fields s(scaling, text.Name("rope_scaling."), source);
  const Fields none(nullptr, "", source);
  const Fields& root = composite ? top : none;  // a bare config's root is `text` already
  const Fields ts(top_scaling, "rope_scaling.", source);
  const std::array<const Fields*, 5> order = {&p, &text, &s, &root, &ts};
  auto first = [&order](const char* key) -> const Fields* {
    for (const Fields* f : order) {
      if (f->Find(key) != nullptr) return f;
    }
    return nullptr;
  };

  if (const Fields* f = first("rope_theta")) {
    QWEN_RETURN_IF_ERROR(f->Double("rope_theta", &cfg->rope_theta));
    if (!(cfg->rope_theta > 0)) {
      return f->Error("rope_theta", absl::StrCat("must be positive, got ", cfg->rope_theta));
    }
  }
  const Fields* prf = first("partial_rotary_factor");
  if (prf != nullptr) {
    QWEN_RETURN_IF_ERROR(prf->Double("partial_rotary_factor", &cfg->partial_rotary_factor));
  }
  const Fields& prf_at = prf != nullptr ? *prf : p;
  double rotary = static_cast<double>(cfg->head_dim) * cfg->partial_rotary_factor;
  if (!(cfg->partial_rotary_factor > 0) || rotary < 1) {
    return prf_at.Error("partial_rotary_factor",
                        absl::StrCat("= ", cfg->partial_rotary_factor,
                                     " gives no rotary dimensions (head_dim ", cfg->head_dim, ")"));
  }
  if (rotary > static_cast<double>(cfg->head_dim)) {
    return prf_at.Error("partial_rotary_factor",
                        absl::StrCat("= ", cfg->partial_rotary_factor, " makes rotary_dim ", rotary,
                                     " exceed head_dim ", cfg->head_dim));
  }
  const int64_t rotary_dim = cfg->rotary_dim();
  if (rotary_dim % 2 != 0) {
    return prf_at.Error("partial_rotary_factor",
                        absl::StrCat("makes rotary_dim = int(head_dim ", cfg->head_dim, " * ",
                                     cfg->partial_rotary_factor, ") = ", rotary_dim,
                                     ", which is odd (RoPE rotates pairs)"));
  }

  const Fields* msf = first("mrope_section");
  if (msf != nullptr) {
    const json& v = *msf->Find("mrope_section");
    if (!v.is_array() || v.size() != 3) {
      return msf->TypeError("mrope_section", "a list of 3 integers", v);
    }
    for (size_t i = 0; i < 3; ++i) {
      if (!v[i].is_number_integer() || v[i].get<int64_t>() < 0 ||
          v[i].get<int64_t>() > std::numeric_limits<int>::max()) {
        return msf->TypeError("mrope_section", "a list of 3 non-negative integers", v);
      }
      cfg->mrope_section[i] = static_cast<int>(v[i].get<int64_t>());
    }
  }
  const int64_t section_sum =
      int64_t{cfg->mrope_section[0]} + cfg->mrope_section[1] + cfg->mrope_section[2];
  if (section_sum != rotary_dim / 2) {
    return (msf != nullptr ? *msf : p)
        .Error("mrope_section",
               absl::StrCat("[", absl::StrJoin(cfg->mrope_section, ", "), "] sums to ", section_sum,
                            " but rotary_dim / 2 = ", rotary_dim / 2));
  }
  // HF hard-codes the interleaved layout and never reads this flag; only its type is checked.
  if (const Fields* f = first("mrope_interleaved")) {
    bool interleaved = true;
    QWEN_RETURN_IF_ERROR(f->Bool("mrope_interleaved", &interleaved));
  }
  // Scaled variants (YaRN, linear, ...) would need different frequencies; "mrope" is the old
  // spelling of the default M-RoPE.
  for (const auto& [f, key] :
       {std::pair{&p, "rope_type"}, std::pair{&s, "rope_type"}, std::pair{&s, "type"},
        std::pair{&ts, "rope_type"}, std::pair{&ts, "type"}}) {
    std::string type;
    QWEN_RETURN_IF_ERROR(f->String(key, &type));
    if (!type.empty() && type != "default" && type != "mrope") {
      return f->Error(key,
                      absl::StrCat("= \"", type, "\" is not supported (expected \"default\")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseLayerTypes(const Fields& text, TextConfig* cfg) {
  const json* list = text.Find("layer_types");
  if (list == nullptr) {
    // HF's derivation when the list is absent (MODEL.md 1.4).
    for (int64_t i = 0; i < cfg->num_hidden_layers; ++i) {
      cfg->layer_types.push_back((i + 1) % cfg->full_attention_interval == 0
                                     ? LayerType::kFullAttention
                                     : LayerType::kLinearAttention);
    }
    return absl::OkStatus();
  }
  if (!list->is_array()) return text.TypeError("layer_types", "a list of strings", *list);
  if (static_cast<int64_t>(list->size()) != cfg->num_hidden_layers) {
    return text.Error("layer_types",
                      absl::StrCat("has ", list->size(), " entries but ",
                                   text.Name("num_hidden_layers"), " is ", cfg->num_hidden_layers));
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const json& v = (*list)[i];
    if (v == "linear_attention") {
      cfg->layer_types.push_back(LayerType::kLinearAttention);
    } else if (v == "full_attention") {
      cfg->layer_types.push_back(LayerType::kFullAttention);
    } else {
      const std::string key = absl::StrCat("layer_types[", i, "]");
      return text.Error(key.c_str(), absl::StrCat("= ", v.dump(),
                                                  " is not \"linear_attention\" "
                                                  "or \"full_attention\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TextConfig> ParseText(const Fields& text, const Fields& top, bool composite,
                                     const std::string* source) {
  TextConfig c;
  for (const auto& [key, out] :
       {std::pair{"vocab_size", &c.vocab_size}, std::pair{"hidden_size", &c.hidden_size},
        std::pair{"intermediate_size", &c.intermediate_size},
        std::pair{"num_hidden_layers", &c.num_hidden_layers},
        std::pair{"num_attention_heads", &c.num_attention_heads},
        std::pair{"num_key_value_heads", &c.num_key_value_heads},
        std::pair{"head_dim", &c.head_dim},
        std::pair{"max_position_embeddings", &c.max_position_embeddings},
        std::pair{"linear_conv_kernel_dim", &c.linear_conv_kernel_dim},
        std::pair{"linear_key_head_dim", &c.linear_key_head_dim},
        std::pair{"linear_value_head_dim", &c.linear_value_head_dim},
        std::pair{"linear_num_key_heads", &c.linear_num_key_heads},
        std::pair{"linear_num_value_heads", &c.linear_num_value_heads},
        std::pair{"full_attention_interval", &c.full_attention_interval}}) {
    QWEN_RETURN_IF_ERROR(text.Int(key, out));
    if (*out <= 0) return text.Error(key, absl::StrCat("must be positive, got ", *out));
  }
  if (c.num_hidden_layers > kMaxLayers) {
    return text.Error("num_hidden_layers",
                      absl::StrCat("= ", c.num_hidden_layers, " is implausibly large"));
  }
  QWEN_RETURN_IF_ERROR(text.String("hidden_act", &c.hidden_act));
  if (c.hidden_act != "silu") {
    return text.Error("hidden_act", absl::StrCat("= \"", c.hidden_act,
                                                 "\" is not supported (Qwen3.5 uses \"silu\")"));
  }
  QWEN_RETURN_IF_ERROR(text.Double("rms_norm_eps", &c.rms_norm_eps));
  if (!(c.rms_norm_eps > 0)) {
    return text.Error("rms_norm_eps", absl::StrCat("must be positive, got ", c.rms_norm_eps));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return text.Error(
        "num_attention_heads",
        absl::StrCat("(", c.num_attention_heads, ") is not a multiple of ",
                     text.Name("num_key_value_heads"), " (", c.num_key_value_heads, ")"));
  }
  if (c.linear_num_value_heads % c.linear_num_key_heads != 0) {
    return text.Error(
        "linear_num_value_heads",
        absl::StrCat("(", c.linear_num_value_heads, ") is not a multiple of ",
                     text.Name("linear_num_key_heads"), " (", c.linear_num_key_heads, ")"));
  }
  QWEN_RETURN_IF_ERROR(ParseRope(text, top, composite, source, &c));
  QWEN_RETURN_IF_ERROR(ParseLayerTypes(text, &c));

  // Shipped composite configs repeat the flag at the root and inside text_config; HF reads both
  // in different places, so disagreeing values would load differently depending on the class.
  std::optional<bool> text_tie;
  std::optional<bool> top_tie;
  if (text.Find("tie_word_embeddings") != nullptr) {
    bool v = false;
    QWEN_RETURN_IF_ERROR(text.Bool("tie_word_embeddings", &v));
    text_tie = v;
  }
  if (composite && top.Find("tie_word_embeddings") != nullptr) {
    bool v = false;
    QWEN_RETURN_IF_ERROR(top.Bool("tie_word_embeddings", &v));
    top_tie = v;
  }
  if (text_tie && top_tie && *text_tie != *top_tie) {
    return text.Error("tie_word_embeddings",
                      absl::StrCat("(", *text_tie ? "true" : "false",
                                   ") disagrees with top-level tie_word_embeddings (",
                                   *top_tie ? "true" : "false", ")"));
  }
  c.tie_word_embeddings = text_tie.value_or(top_tie.value_or(false));
  return c;
}

absl::StatusOr<VisionConfig> ParseVision(const Fields& v, int64_t text_hidden_size) {
  VisionConfig c;
  std::string model_type;
  QWEN_RETURN_IF_ERROR(v.String("model_type", &model_type));
  if (!model_type.empty() && model_type != "qwen3_5_vision" && model_type != "qwen3_5") {
    return v.Error("model_type",
                   absl::StrCat("= \"", model_type, "\" is not a Qwen3.5 vision config"));
  }
  // `num_attention_heads` is an alias of `num_heads` in HF's vision config.
  const char* heads_key = v.Find("num_heads") == nullptr && v.Find("num_attention_heads") != nullptr
                              ? "num_attention_heads"
                              : "num_heads";
  for (const auto& [key, out] :
       {std::pair{"depth", &c.depth}, std::pair{"hidden_size", &c.hidden_size},
        std::pair{"intermediate_size", &c.intermediate_size}, std::pair{heads_key, &c.num_heads},
        std::pair{"in_channels", &c.in_channels}, std::pair{"patch_size", &c.patch_size},
        std::pair{"spatial_merge_size", &c.spatial_merge_size},
        std::pair{"temporal_patch_size", &c.temporal_patch_size},
        std::pair{"out_hidden_size", &c.out_hidden_size},
        std::pair{"num_position_embeddings", &c.num_position_embeddings}}) {
    QWEN_RETURN_IF_ERROR(v.Int(key, out));
    if (*out <= 0) return v.Error(key, absl::StrCat("must be positive, got ", *out));
  }
  QWEN_RETURN_IF_ERROR(v.String("hidden_act", &c.hidden_act));
  QWEN_ASSIGN_OR_RETURN(const json* rope, v.Object("rope_parameters"));
  const Fields rp(rope, v.Name("rope_parameters."), v.source());
  const Fields& theta_at = rp.Find("rope_theta") != nullptr ? rp : v;
  QWEN_RETURN_IF_ERROR(theta_at.Double("rope_theta", &c.rope_theta));
  if (!(c.rope_theta > 0)) {
    return v.Error("rope_theta", absl::StrCat("must be positive, got ", c.rope_theta));
  }
  if (c.hidden_size % c.num_heads != 0) {
    return v.Error("hidden_size", absl::StrCat("(", c.hidden_size, ") is not a multiple of ",
                                               v.Name(heads_key), " (", c.num_heads, ")"));
  }
  // The learned position table is interpolated as a square grid (MODEL.md 4.2).
  auto side =
      static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(c.num_position_embeddings))));
  while (side * side > c.num_position_embeddings) --side;
  while ((side + 1) * (side + 1) <= c.num_position_embeddings) ++side;
  if (side * side != c.num_position_embeddings) {
    return v.Error("num_position_embeddings",
                   absl::StrCat("(", c.num_position_embeddings, ") is not a perfect square"));
  }
  if (c.out_hidden_size != text_hidden_size) {
    return v.Error(
        "out_hidden_size",
        absl::StrCat("(", c.out_hidden_size, ") differs from text hidden_size (", text_hidden_size,
                     "); the merged image features could not be "
                     "placed in the text embedding stream"));
  }
  const json* deepstack = v.Find("deepstack_visual_indexes");
  if (deepstack != nullptr && !(deepstack->is_array() && deepstack->empty())) {
    return v.Error("deepstack_visual_indexes",
                   absl::StrCat("= ", deepstack->dump(), ": DeepStack is not part of Qwen3.5"));
  }
  return c;
}

// Works out which of the two supported layouts `root` is, from text_config, architectures and
// model_type, rejecting combinations that contradict each other.
absl::Status ParseArchitecture(const Fields& top, ModelConfig* cfg) {
  const bool composite = top.Find("text_config") != nullptr;
  std::string arch = composite ? kConditionalGeneration : kCausalLm;
  if (const json* archs = top.Find("architectures")) {
    if (!archs->is_array()) return top.TypeError("architectures", "a list of strings", *archs);
    for (size_t i = 0; i < archs->size(); ++i) {
      const json& a = (*archs)[i];
      if (a != kConditionalGeneration && a != kCausalLm) {
        const std::string key = absl::StrCat("architectures[", i, "]");
        return top.Error(key.c_str(),
                         absl::StrCat("= ", a.dump(), " is not supported (expected \"",
                                      kConditionalGeneration, "\" or \"", kCausalLm, "\")"));
      }
    }
    if (!archs->empty()) arch = (*archs)[0].get<std::string>();
  }
  if (composite && arch == kCausalLm) {
    return top.Error("architectures", absl::StrCat("names ", kCausalLm,
                                                   ", which takes a bare text config, but the "
                                                   "config has a text_config"));
  }
  if (!composite && arch == kConditionalGeneration) {
    return top.Error("architectures", absl::StrCat("names ", kConditionalGeneration,
                                                   " but the config has no text_config"));
  }
  std::string model_type;
  QWEN_RETURN_IF_ERROR(top.String("model_type", &model_type));
  const char* expected_type = composite ? "qwen3_5" : "qwen3_5_text";
  if (!model_type.empty() && model_type != expected_type) {
    return top.Error("model_type", absl::StrCat("= \"", model_type, "\" but \"", expected_type,
                                                "\" was expected for ", arch));
  }
  cfg->architecture = arch;
  cfg->text_weight_prefix = composite ? "model.language_model." : "model.";
  return absl::OkStatus();
}

}  // namespace

int64_t TextConfig::num_layers_of(LayerType t) const {
  int64_t n = 0;
  for (LayerType lt : layer_types) n += lt == t ? 1 : 0;
  return n;
}

absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view json_text, std::string_view source) {
  const std::string src(source);
  QWEN_ASSIGN_OR_RETURN(json root, ParseObject(json_text, src));
  const Fields top(&root, "", &src);
  ModelConfig cfg;
  QWEN_RETURN_IF_ERROR(ParseArchitecture(top, &cfg));
  QWEN_ASSIGN_OR_RETURN(const json* text_obj, top.Object("text_config"));
  const bool composite = text_obj != nullptr;
  const Fields text(composite ? text_obj : &root, composite ? "text_config." : "", &src);
  if (composite) {
    std::string text_type;
    QWEN_RETURN_IF_ERROR(text.String("model_type", &text_type));
    if (!text_type.empty() && text_type != "qwen3_5_text") {
      return text.Error("model_type",
                        absl::StrCat("= \"", text_type, "\", expected \"qwen3_5_text\""));
    }
  }
  QWEN_ASSIGN_OR_RETURN(cfg.text, ParseText(text, top, composite, &src));
  if (composite) {
    QWEN_ASSIGN_OR_RETURN(const json* vision_obj, top.Object("vision_config"));
    if (vision_obj != nullptr) {
      QWEN_ASSIGN_OR_RETURN(cfg.vision, ParseVision(Fields(vision_obj, "vision_config.", &src),
                                                    cfg.text.hidden_size));
    }
  }
  for (const auto& [key, out] : {std::pair{"image_token_id", &cfg.image_token_id},
                                 std::pair{"video_token_id", &cfg.video_token_id},
                                 std::pair{"vision_start_token_id", &cfg.vision_start_token_id},
                                 std::pair{"vision_end_token_id", &cfg.vision_end_token_id}}) {
    QWEN_RETURN_IF_ERROR(top.Int(key, out));
    if (*out < 0) return top.Error(key, absl::StrCat("must be non-negative, got ", *out));
  }
  return cfg;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const fs::path& path) {
  std::error_code ec;
  const fs::path file = fs::is_directory(path, ec) ? path / "config.json" : path;
  QWEN_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  return ParseModelConfig(text, file.string());
}

absl::StatusOr<GenerationConfig> ParseGenerationConfig(std::string_view json_text,
                                                       std::string_view source) {
  const std::string src(source);
  QWEN_ASSIGN_OR_RETURN(json root, ParseObject(json_text, src));
  const Fields f(&root, "", &src);
  GenerationConfig g;
  if (const json* eos = f.Find("eos_token_id")) {
    // HF accepts one id or a list of ids.
    if (eos->is_array()) {
      for (const json& id : *eos) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0) {
          return f.TypeError("eos_token_id", "a non-negative integer or a list of them", *eos);
        }
        g.eos_token_ids.push_back(id.get<int64_t>());
      }
    } else {
      int64_t id = 0;
      QWEN_RETURN_IF_ERROR(f.Int("eos_token_id", &id));
      g.eos_token_ids.push_back(id);
    }
  }
  QWEN_RETURN_IF_ERROR(f.Int("pad_token_id", &g.pad_token_id));
  QWEN_RETURN_IF_ERROR(f.Int("bos_token_id", &g.bos_token_id));
  QWEN_RETURN_IF_ERROR(f.Bool("do_sample", &g.do_sample));
  QWEN_RETURN_IF_ERROR(f.Double("temperature", &g.temperature));
  QWEN_RETURN_IF_ERROR(f.Int("top_k", &g.top_k));
  QWEN_RETURN_IF_ERROR(f.Double("top_p", &g.top_p));
  QWEN_RETURN_IF_ERROR(f.Double("min_p", &g.min_p));
  QWEN_RETURN_IF_ERROR(f.Double("repetition_penalty", &g.repetition_penalty));
  QWEN_RETURN_IF_ERROR(f.Int("max_new_tokens", &g.max_new_tokens));

  for (const auto& [key, id] :
       {std::pair{"pad_token_id", g.pad_token_id}, std::pair{"bos_token_id", g.bos_token_id}}) {
    if (id && *id < 0) return f.Error(key, absl::StrCat("must be non-negative, got ", *id));
  }
  if (!g.eos_token_ids.empty() && g.eos_token_ids[0] < 0) {
    return f.Error("eos_token_id", absl::StrCat("must be non-negative, got ", g.eos_token_ids[0]));
  }
  if (!(g.temperature >= 0)) {
    return f.Error("temperature", absl::StrCat("must be >= 0, got ", g.temperature));
  }
  if (g.top_k < 0) return f.Error("top_k", absl::StrCat("must be >= 0, got ", g.top_k));
  if (!(g.top_p > 0 && g.top_p <= 1)) {
    return f.Error("top_p", absl::StrCat("must be in (0, 1], got ", g.top_p));
  }
  if (!(g.min_p >= 0 && g.min_p <= 1)) {
    return f.Error("min_p", absl::StrCat("must be in [0, 1], got ", g.min_p));
  }
  if (!(g.repetition_penalty > 0)) {
    return f.Error("repetition_penalty",
                   absl::StrCat("must be positive, got ", g.repetition_penalty));
  }
  if (g.max_new_tokens && *g.max_new_tokens <= 0) {
    return f.Error("max_new_tokens", absl::StrCat("must be positive, got ", *g.max_new_tokens));
  }
  return g;
}

absl::StatusOr<GenerationConfig> LoadGenerationConfig(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": not a directory"));
  }
  const fs::path file = dir / "generation_config.json";
  if (!fs::exists(file, ec)) return GenerationConfig{};
  QWEN_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  return ParseGenerationConfig(text, file.string());
}

}  // namespace qwen::core
