#include "tools/qwen35/demo_checkpoint.h"

#include <cmath>
#include <fstream>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace qwen::tools {
namespace {

using nlohmann::json;

class Initialiser {
 public:
  explicit Initialiser(uint64_t seed) : rng_(seed) {}
  // bf16 tensor of N(mean, std) values.
  core::Tensor Normal(const core::Shape& shape, float mean, float std) {
    core::Tensor t = core::Tensor::Zeros(shape, core::DType::kBF16);
    auto* p = t.data<core::BFloat16>();
    std::normal_distribution<float> dist(mean, std);
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = core::F32ToBF16(dist(rng_));
    return t;
  }
  core::Tensor Linear(int64_t out, int64_t in) {
    return Normal({out, in}, 0.0f, 1.0f / std::sqrt(static_cast<float>(in)));
  }

 private:
  std::mt19937_64 rng_;
};

absl::Status WriteJson(const std::filesystem::path& path, const json& j) {
  std::ofstream f(path);
  f << j.dump(2) << "\n";
  f.close();
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteDemoCheckpoint(const std::filesystem::path& dir, const DemoCheckpointOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));

  const int64_t h = o.hidden_size, inter = 2 * h, hq = 4, hkv = 2, d = 128;
  const int64_t hk = 4, hv = 8, dk = 32, dv = 32, kconv = 4, conv_dim = 2 * hk * dk + hv * dv;
  const int64_t vh = 128, vinter = 256, vdepth = 2, vheads = 4, vpos = 2304;
  json layer_types = json::array();
  for (int64_t i = 0; i < o.num_layers; ++i) {
    layer_types.push_back((i + 1) % 4 == 0 ? "full_attention" : "linear_attention");
  }
  json text = {
      {"model_type", "qwen3_5_text"}, {"vocab_size", o.vocab_size}, {"hidden_size", h},
      {"intermediate_size", inter}, {"num_hidden_layers", o.num_layers},
      {"num_attention_heads", hq}, {"num_key_value_heads", hkv}, {"head_dim", d},
      {"hidden_act", "silu"}, {"rms_norm_eps", 1e-6}, {"max_position_embeddings", 262144},
      {"linear_conv_kernel_dim", kconv}, {"linear_key_head_dim", dk},
      {"linear_value_head_dim", dv}, {"linear_num_key_heads", hk},
      {"linear_num_value_heads", hv}, {"layer_types", layer_types},
      {"full_attention_interval", 4}, {"attn_output_gate", true},
      {"mamba_ssm_dtype", "float32"}, {"tie_word_embeddings", o.tie_word_embeddings},
      {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 10000000},
                           {"partial_rotary_factor", 0.25}, {"mrope_section", {6, 5, 5}},
                           {"mrope_interleaved", true}}},
  };
  json vision = {
      {"model_type", "qwen3_5_vision"}, {"depth", vdepth}, {"hidden_size", vh},
      {"hidden_act", "gelu_pytorch_tanh"}, {"intermediate_size", vinter}, {"num_heads", vheads},
      {"in_channels", 3}, {"patch_size", 16}, {"spatial_merge_size", 2},
      {"temporal_patch_size", 2}, {"out_hidden_size", h}, {"num_position_embeddings", vpos},
      {"deepstack_visual_indexes", json::array()},
  };
  json config = {
      {"architectures", {"Qwen3_5ForConditionalGeneration"}}, {"model_type", "qwen3_5"},
      {"text_config", text}, {"vision_config", vision}, {"image_token_id", o.image_token_id},
      {"video_token_id", o.video_token_id}, {"vision_start_token_id", o.vision_start_token_id},
      {"vision_end_token_id", o.vision_end_token_id}, {"tie_word_embeddings", o.tie_word_embeddings},
      {"transformers_version", "5.17.0"},
  };
  for (int64_t id : {o.image_token_id, o.video_token_id, o.vision_start_token_id,
                     o.vision_end_token_id, o.pad_token_id}) {
    if (id < 0 || id >= o.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("special token id ", id, " is outside the vocabulary of ",
                                                     o.vocab_size));
    }
  }
  json generation = {{"bos_token_id", o.pad_token_id}, {"eos_token_id", o.eos_token_ids},
                     {"pad_token_id", o.pad_token_id}, {"do_sample", true}, {"temperature", 1.0},
                     {"top_k", 20}, {"top_p", 0.95}};
  QWEN_RETURN_IF_ERROR(WriteJson(dir / "config.json", config));
  QWEN_RETURN_IF_ERROR(WriteJson(dir / "generation_config.json", generation));

  Initialiser init(o.seed);
  std::map<std::string, core::Tensor> w;
  const std::string t = "model.language_model.";
  w[t + "embed_tokens.weight"] = init.Normal({o.vocab_size, h}, 0.0f, 1.0f);
  w[t + "norm.weight"] = init.Normal({h}, 0.0f, 0.1f);
  if (!o.tie_word_embeddings) w["lm_head.weight"] = init.Linear(o.vocab_size, h);
  for (int64_t i = 0; i < o.num_layers; ++i) {
    std::string p = absl::StrCat(t, "layers.", i, ".");
    w[p + "input_layernorm.weight"] = init.Normal({h}, 0.0f, 0.1f);
    w[p + "post_attention_layernorm.weight"] = init.Normal({h}, 0.0f, 0.1f);
    w[p + "mlp.gate_proj.weight"] = init.Linear(inter, h);
    w[p + "mlp.up_proj.weight"] = init.Linear(inter, h);
    w[p + "mlp.down_proj.weight"] = init.Linear(h, inter);
    if ((i + 1) % 4 == 0) {
      w[p + "self_attn.q_proj.weight"] = init.Linear(2 * hq * d, h);
      w[p + "self_attn.k_proj.weight"] = init.Linear(hkv * d, h);
      w[p + "self_attn.v_proj.weight"] = init.Linear(hkv * d, h);
      w[p + "self_attn.o_proj.weight"] = init.Linear(h, hq * d);
      w[p + "self_attn.q_norm.weight"] = init.Normal({d}, 0.0f, 0.1f);
      w[p + "self_attn.k_norm.weight"] = init.Normal({d}, 0.0f, 0.1f);
    } else {
      w[p + "linear_attn.in_proj_qkv.weight"] = init.Linear(conv_dim, h);
      w[p + "linear_attn.in_proj_z.weight"] = init.Linear(hv * dv, h);
      w[p + "linear_attn.in_proj_b.weight"] = init.Linear(hv, h);
      w[p + "linear_attn.in_proj_a.weight"] = init.Linear(hv, h);
      w[p + "linear_attn.conv1d.weight"] = init.Normal({conv_dim, 1, kconv}, 0.0f, 0.5f);
      w[p + "linear_attn.dt_bias"] = init.Normal({hv}, 0.0f, 0.5f);
      w[p + "linear_attn.A_log"] = init.Normal({hv}, 1.0f, 0.5f);
      w[p + "linear_attn.norm.weight"] = init.Normal({dv}, 1.0f, 0.1f);
      w[p + "linear_attn.out_proj.weight"] = init.Linear(h, hv * dv);
    }
  }
  const std::string v = "model.visual.";
  const int64_t patch_in = 3 * 2 * 16 * 16;
  w[v + "patch_embed.proj.weight"] = init.Normal({vh, 3, 2, 16, 16}, 0.0f, 1.0f / std::sqrt(static_cast<float>(patch_in)));
  w[v + "patch_embed.proj.bias"] = init.Normal({vh}, 0.0f, 0.02f);
  w[v + "pos_embed.weight"] = init.Normal({vpos, vh}, 0.0f, 0.02f);
  for (int64_t j = 0; j < vdepth; ++j) {
    std::string p = absl::StrCat(v, "blocks.", j, ".");
    for (const char* ln : {"norm1", "norm2"}) {
      w[p + ln + ".weight"] = init.Normal({vh}, 1.0f, 0.1f);
      w[p + ln + ".bias"] = init.Normal({vh}, 0.0f, 0.02f);
    }
    w[p + "attn.qkv.weight"] = init.Linear(3 * vh, vh);
    w[p + "attn.qkv.bias"] = init.Normal({3 * vh}, 0.0f, 0.02f);
    w[p + "attn.proj.weight"] = init.Linear(vh, vh);
    w[p + "attn.proj.bias"] = init.Normal({vh}, 0.0f, 0.02f);
    w[p + "mlp.linear_fc1.weight"] = init.Linear(vinter, vh);
    w[p + "mlp.linear_fc1.bias"] = init.Normal({vinter}, 0.0f, 0.02f);
    w[p + "mlp.linear_fc2.weight"] = init.Linear(vh, vinter);
    w[p + "mlp.linear_fc2.bias"] = init.Normal({vh}, 0.0f, 0.02f);
  }
  w[v + "merger.norm.weight"] = init.Normal({vh}, 1.0f, 0.1f);
  w[v + "merger.norm.bias"] = init.Normal({vh}, 0.0f, 0.02f);
  w[v + "merger.linear_fc1.weight"] = init.Linear(4 * vh, 4 * vh);
  w[v + "merger.linear_fc1.bias"] = init.Normal({4 * vh}, 0.0f, 0.02f);
  w[v + "merger.linear_fc2.weight"] = init.Linear(h, 4 * vh);
  w[v + "merger.linear_fc2.bias"] = init.Normal({h}, 0.0f, 0.02f);
  return core::WriteSafetensors(dir / "model.safetensors", w, {{"format", "pt"}});
}

}  // namespace qwen::tools
