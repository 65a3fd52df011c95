#include "core/config.h"

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace qwen::core {
namespace {

using json = nlohmann::json;
using testing::HasSubstr;

// Modelled on the shipped Qwen3.5-9B config.json (MODEL.md 1.2-1.6), including the keys HF
// ignores (attn_output_gate, mamba_ssm_dtype, mtp_*, ...).
constexpr char k9BConfig[] = R"json({
  "architectures": ["Qwen3_5ForConditionalGeneration"],
  "image_token_id": 248056,
  "model_type": "qwen3_5",
  "text_config": {
    "attention_bias": false,
    "attention_dropout": 0.0,
    "attn_output_gate": true,
    "dtype": "bfloat16",
    "eos_token_id": 248044,
    "full_attention_interval": 4,
    "head_dim": 256,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 12288,
    "layer_types": [
      "linear_attention", "linear_attention", "linear_attention", "full_attention",
      "linear_attention", "linear_attention", "linear_attention", "full_attention",
      "linear_attention", "linear_attention", "linear_attention", "full_attention",
      "linear_attention", "linear_attention", "linear_attention", "full_attention",
      "linear_attention", "linear_attention", "linear_attention", "full_attention",
      "linear_attention", "linear_attention", "linear_attention", "full_attention",
      "linear_attention", "linear_attention", "linear_attention", "full_attention",
      "linear_attention", "linear_attention", "linear_attention", "full_attention"
    ],
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 32,
    "linear_value_head_dim": 128,
    "mamba_ssm_dtype": "float32",
    "max_position_embeddings": 262144,
    "mlp_only_layers": [],
    "model_type": "qwen3_5_text",
    "mtp_num_hidden_layers": 1,
    "mtp_use_dedicated_embeddings": false,
    "num_attention_heads": 16,
    "num_hidden_layers": 32,
    "num_key_value_heads": 4,
    "partial_rotary_factor": 0.25,
    "rms_norm_eps": 1e-06,
    "rope_parameters": {
      "mrope_interleaved": true,
      "mrope_section": [11, 11, 10],
      "partial_rotary_factor": 0.25,
      "rope_theta": 10000000,
      "rope_type": "default"
    },
    "tie_word_embeddings": false,
    "use_cache": true,
    "vocab_size": 248320
  },
  "tie_word_embeddings": false,
  "transformers_version": "4.57.0.dev0",
  "video_token_id": 248057,
  "vision_config": {
    "deepstack_visual_indexes": [],
    "depth": 27,
    "hidden_act": "gelu_pytorch_tanh",
    "hidden_size": 1152,
    "in_channels": 3,
    "initializer_range": 0.02,
    "intermediate_size": 4304,
    "model_type": "qwen3_5",
    "num_heads": 16,
    "num_position_embeddings": 2304,
    "out_hidden_size": 4096,
    "patch_size": 16,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2
  },
  "vision_end_token_id": 248054,
  "vision_start_token_id": 248053
})json";

// A bare text config as saved for Qwen3_5ForCausalLM (0.8B sizes), without layer_types.
constexpr char k08BTextConfig[] = R"json({
  "architectures": ["Qwen3_5ForCausalLM"],
  "model_type": "qwen3_5_text",
  "vocab_size": 248320,
  "hidden_size": 1024,
  "intermediate_size": 3584,
  "num_hidden_layers": 24,
  "num_attention_heads": 8,
  "num_key_value_heads": 2,
  "head_dim": 256,
  "hidden_act": "silu",
  "rms_norm_eps": 1e-06,
  "max_position_embeddings": 262144,
  "linear_conv_kernel_dim": 4,
  "linear_key_head_dim": 128,
  "linear_value_head_dim": 128,
  "linear_num_key_heads": 16,
  "linear_num_value_heads": 16,
  "full_attention_interval": 4,
  "rope_parameters": {"rope_type": "default", "rope_theta": 10000000,
                      "partial_rotary_factor": 0.25, "mrope_section": [11, 11, 10],
                      "mrope_interleaved": true},
  "tie_word_embeddings": true
})json";

constexpr char kSource[] = "ckpt/config.json";

std::string Mutate(const char* base, const std::function<void(json&)>& edit) {
  json j = json::parse(base);
  edit(j);
  return j.dump();
}

ModelConfig ParseOk(const std::string& text) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(text, kSource);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : ModelConfig{};
}

// Expects InvalidArgument whose message names the source file and contains every needle.
void ExpectInvalid(const std::string& text, const std::vector<std::string>& needles) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(text, kSource);
  ASSERT_FALSE(c.ok()) << "parsed: " << text;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  const std::string msg(c.status().message());
  EXPECT_THAT(msg, HasSubstr(kSource));
  for (const std::string& n : needles) EXPECT_THAT(msg, HasSubstr(n));
}

std::string Edit9B(const std::function<void(json&)>& edit) { return Mutate(k9BConfig, edit); }

TEST(ModelConfigTest, Parses9BConditionalGeneration) {
  ModelConfig c = ParseOk(k9BConfig);
  EXPECT_EQ(c.architecture, "Qwen3_5ForConditionalGeneration");
  EXPECT_EQ(c.text_weight_prefix, "model.language_model.");
  EXPECT_EQ(c.vision_weight_prefix, "model.visual.");
  const TextConfig& t = c.text;
  EXPECT_EQ(t.vocab_size, 248320);
  EXPECT_EQ(t.hidden_size, 4096);
  EXPECT_EQ(t.intermediate_size, 12288);
  EXPECT_EQ(t.num_hidden_layers, 32);
  EXPECT_EQ(t.num_attention_heads, 16);
  EXPECT_EQ(t.num_key_value_heads, 4);
  EXPECT_EQ(t.head_dim, 256);
  EXPECT_EQ(t.max_position_embeddings, 262144);
  EXPECT_DOUBLE_EQ(t.rms_norm_eps, 1e-6);
  EXPECT_EQ(t.linear_num_key_heads, 16);
  EXPECT_EQ(t.linear_num_value_heads, 32);
  EXPECT_EQ(t.linear_conv_dim(), 8192);
  EXPECT_DOUBLE_EQ(t.rope_theta, 1e7);
  EXPECT_DOUBLE_EQ(t.partial_rotary_factor, 0.25);
  EXPECT_EQ(t.rotary_dim(), 64);
  EXPECT_EQ(t.mrope_section, (std::array<int, 3>{11, 11, 10}));
  EXPECT_FALSE(t.tie_word_embeddings);
  ASSERT_EQ(t.layer_types.size(), 32u);
  EXPECT_EQ(t.num_layers_of(LayerType::kLinearAttention), 24);
  EXPECT_EQ(t.num_layers_of(LayerType::kFullAttention), 8);
  EXPECT_EQ(t.layer_types[3], LayerType::kFullAttention);
  EXPECT_EQ(t.layer_types[4], LayerType::kLinearAttention);
  ASSERT_TRUE(c.vision.has_value());
  EXPECT_EQ(c.vision->depth, 27);
  EXPECT_EQ(c.vision->hidden_size, 1152);
  EXPECT_EQ(c.vision->intermediate_size, 4304);
  EXPECT_EQ(c.vision->num_heads, 16);
  EXPECT_EQ(c.vision->out_hidden_size, 4096);
  EXPECT_EQ(c.vision->num_position_embeddings, 2304);
  EXPECT_EQ(c.vision->hidden_act, "gelu_pytorch_tanh");
  EXPECT_EQ(c.image_token_id, 248056);
  EXPECT_EQ(c.video_token_id, 248057);
  EXPECT_EQ(c.vision_start_token_id, 248053);
  EXPECT_EQ(c.vision_end_token_id, 248054);
}

TEST(ModelConfigTest, ExplicitLayerTypesAreHonoured) {
  ModelConfig c = ParseOk(Edit9B([](json& j) {
    j["text_config"]["layer_types"][0] = "full_attention";  // breaks the interval pattern
  }));
  EXPECT_EQ(c.text.layer_types[0], LayerType::kFullAttention);
  EXPECT_EQ(c.text.num_layers_of(LayerType::kFullAttention), 9);
}

TEST(ModelConfigTest, ParsesBare08BTextConfig) {
  ModelConfig c = ParseOk(k08BTextConfig);
  EXPECT_EQ(c.architecture, "Qwen3_5ForCausalLM");
  EXPECT_EQ(c.text_weight_prefix, "model.");
  EXPECT_FALSE(c.vision.has_value());
  EXPECT_EQ(c.text.hidden_size, 1024);
  EXPECT_EQ(c.text.num_attention_heads, 8);
  EXPECT_EQ(c.text.num_key_value_heads, 2);
  EXPECT_EQ(c.text.linear_conv_dim(), 6144);
  EXPECT_TRUE(c.text.tie_word_embeddings);
  // Derived: full attention where (i + 1) % 4 == 0.
  ASSERT_EQ(c.text.layer_types.size(), 24u);
  EXPECT_EQ(c.text.num_layers_of(LayerType::kFullAttention), 6);
  for (int i = 0; i < 24; ++i) {
    EXPECT_EQ(c.text.layer_types[i],
              (i + 1) % 4 == 0 ? LayerType::kFullAttention : LayerType::kLinearAttention)
        << i;
  }
}

TEST(ModelConfigTest, DerivesLayerTypesFromInterval) {
  ModelConfig c = ParseOk(Mutate(k08BTextConfig, [](json& j) {
    j["num_hidden_layers"] = 6;
    j["full_attention_interval"] = 3;
  }));
  EXPECT_EQ(c.text.layer_types,
            (std::vector<LayerType>{LayerType::kLinearAttention, LayerType::kLinearAttention,
                                    LayerType::kFullAttention, LayerType::kLinearAttention,
                                    LayerType::kLinearAttention, LayerType::kFullAttention}));
}

TEST(ModelConfigTest, EmptyConfigGetsHfDefaults) {
  ModelConfig c = ParseOk("{}");
  TextConfig defaults;
  EXPECT_EQ(c.architecture, "Qwen3_5ForCausalLM");
  EXPECT_EQ(c.text.hidden_size, defaults.hidden_size);
  EXPECT_EQ(c.text.vocab_size, defaults.vocab_size);
  EXPECT_DOUBLE_EQ(c.text.rope_theta, 10000.0);
  EXPECT_EQ(c.text.layer_types.size(), 32u);
  EXPECT_EQ(c.text.num_layers_of(LayerType::kFullAttention), 8);
  EXPECT_FALSE(c.text.tie_word_embeddings);
}

TEST(ModelConfigTest, LegacyRopeKeys) {
  ModelConfig c = ParseOk(Edit9B([](json& j) {
    json& t = j["text_config"];
    t.erase("rope_parameters");
    t.erase("partial_rotary_factor");
    t["rope_theta"] = 5000000;
    t["rope_scaling"] = {{"type", "mrope"}, {"mrope_section", {24, 20, 20}}};
    j["partial_rotary_factor"] = 0.5;  // top level of a composite config
  }));
  EXPECT_DOUBLE_EQ(c.text.rope_theta, 5e6);
  EXPECT_DOUBLE_EQ(c.text.partial_rotary_factor, 0.5);
  EXPECT_EQ(c.text.rotary_dim(), 128);
  EXPECT_EQ(c.text.mrope_section, (std::array<int, 3>{24, 20, 20}));
}

TEST(ModelConfigTest, RopeParametersTakePrecedenceOverLegacyKeys) {
  ModelConfig c = ParseOk(Edit9B([](json& j) { j["text_config"]["rope_theta"] = 1234; }));
  EXPECT_DOUBLE_EQ(c.text.rope_theta, 1e7);
}

TEST(ModelConfigTest, TieWordEmbeddingsFallsBackToTopLevel) {
  ModelConfig c = ParseOk(Edit9B([](json& j) {
    j["text_config"].erase("tie_word_embeddings");
    j["tie_word_embeddings"] = true;
  }));
  EXPECT_TRUE(c.text.tie_word_embeddings);
}

TEST(ModelConfigTest, TopLevelTokenIdsAndVisionAliases) {
  ModelConfig c = ParseOk(Edit9B([](json& j) {
    j["image_token_id"] = 11;
    j["vision_end_token_id"] = 12;
    j["vision_config"].erase("num_heads");
    j["vision_config"]["num_attention_heads"] = 8;
  }));
  EXPECT_EQ(c.image_token_id, 11);
  EXPECT_EQ(c.vision_end_token_id, 12);
  EXPECT_EQ(c.video_token_id, 248057);
  EXPECT_EQ(c.vision->num_heads, 8);
}

TEST(ModelConfigTest, CompositeWithoutVisionConfig) {
  ModelConfig c = ParseOk(Edit9B([](json& j) { j.erase("vision_config"); }));
  EXPECT_FALSE(c.vision.has_value());
  EXPECT_EQ(c.text_weight_prefix, "model.language_model.");
}

// ---- Rejected configs: one test per inconsistency ------------------------------------------

TEST(ModelConfigErrorTest, InvalidJson) {
  ExpectInvalid("{\"text_config\": ", {"not valid JSON"});
  ExpectInvalid("", {"not valid JSON"});
}

TEST(ModelConfigErrorTest, NotAnObject) { ExpectInvalid("[1]", {"array"}); }

TEST(ModelConfigErrorTest, LayerTypesLengthMismatch) {
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["layer_types"].erase(31); }),
                {"text_config.layer_types", "31 entries", "num_hidden_layers is 32"});
}

TEST(ModelConfigErrorTest, UnknownLayerType) {
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["layer_types"][5] = "sliding_attention"; }),
                {"text_config.layer_types[5]", "sliding_attention"});
}

TEST(ModelConfigErrorTest, NonPositiveSize) {
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["hidden_size"] = 0; }),
                {"text_config.hidden_size", "positive", "0"});
  ExpectInvalid(Mutate(k08BTextConfig, [](json& j) { j["linear_key_head_dim"] = -128; }),
                {"linear_key_head_dim", "-128"});
}

TEST(ModelConfigErrorTest, AttentionHeadsNotMultipleOfKvHeads) {
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["num_key_value_heads"] = 3; }),
                {"text_config.num_attention_heads", "(16)", "num_key_value_heads", "(3)"});
}

TEST(ModelConfigErrorTest, ValueHeadsNotMultipleOfKeyHeads) {
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["linear_num_value_heads"] = 24; }),
                {"text_config.linear_num_value_heads", "(24)", "linear_num_key_heads", "(16)"});
}

TEST(ModelConfigErrorTest, RotaryDimOdd) {
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["head_dim"] = 252; }),
                {"partial_rotary_factor", "= 63", "odd"});
}

TEST(ModelConfigErrorTest, RotaryDimExceedsHeadDim) {
  ExpectInvalid(
      Edit9B([](json& j) { j["text_config"]["rope_parameters"]["partial_rotary_factor"] = 1.5; }),
      {"text_config.rope_parameters.partial_rotary_factor", "384", "head_dim 256"});
}

TEST(ModelConfigErrorTest, MropeSectionSumMismatch) {
  ExpectInvalid(Edit9B([](json& j) {
                  j["text_config"]["rope_parameters"]["mrope_section"] = {11, 11, 11};
                }),
                {"text_config.rope_parameters.mrope_section", "sums to 33", "rotary_dim / 2 = 32"});
}

TEST(ModelConfigErrorTest, MropeSectionWrongLength) {
  ExpectInvalid(Edit9B([](json& j) {
                  j["text_config"]["rope_parameters"]["mrope_section"] = {16, 16};
                }),
                {"mrope_section", "3 integers", "[16,16]"});
}

TEST(ModelConfigErrorTest, UnsupportedRopeType) {
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["rope_parameters"]["rope_type"] = "yarn"; }),
                {"text_config.rope_parameters.rope_type", "yarn"});
}

TEST(ModelConfigErrorTest, HiddenActNotSilu) {
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["hidden_act"] = "gelu"; }),
                {"text_config.hidden_act", "gelu"});
}

TEST(ModelConfigErrorTest, VisionHiddenNotMultipleOfHeads) {
  ExpectInvalid(Edit9B([](json& j) { j["vision_config"]["num_heads"] = 10; }),
                {"vision_config.hidden_size", "1152", "num_heads", "10"});
}

TEST(ModelConfigErrorTest, VisionPositionEmbeddingsNotSquare) {
  ExpectInvalid(Edit9B([](json& j) { j["vision_config"]["num_position_embeddings"] = 2300; }),
                {"vision_config.num_position_embeddings", "2300", "perfect square"});
}

TEST(ModelConfigErrorTest, VisionOutHiddenSizeMismatch) {
  ExpectInvalid(Edit9B([](json& j) { j["vision_config"]["out_hidden_size"] = 3584; }),
                {"vision_config.out_hidden_size", "3584", "4096"});
}

TEST(ModelConfigErrorTest, VisionDeepStackRejected) {
  ExpectInvalid(Edit9B([](json& j) {
                  j["vision_config"]["deepstack_visual_indexes"] = {8, 16};
                }),
                {"vision_config.deepstack_visual_indexes"});
}

TEST(ModelConfigErrorTest, WrongJsonTypesNameTheField) {
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["hidden_size"] = "4096"; }),
                {"text_config.hidden_size", "must be an integer", "string"});
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["num_hidden_layers"] = 32.5; }),
                {"text_config.num_hidden_layers", "integer"});
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["rms_norm_eps"] = "1e-6"; }),
                {"text_config.rms_norm_eps", "number"});
  ExpectInvalid(Edit9B([](json& j) { j["tie_word_embeddings"] = 0; }),
                {"tie_word_embeddings", "boolean"});
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["layer_types"] = "full"; }),
                {"text_config.layer_types", "list"});
  ExpectInvalid(Edit9B([](json& j) { j["text_config"]["rope_parameters"] = 5; }),
                {"text_config.rope_parameters", "object"});
  ExpectInvalid(Edit9B([](json& j) { j["vision_config"]["depth"] = true; }),
                {"vision_config.depth", "integer"});
  ExpectInvalid(Edit9B([](json& j) { j["image_token_id"] = "248056"; }), {"image_token_id"});
  ExpectInvalid(Edit9B([](json& j) { j["text_config"] = {1, 2}; }), {"text_config", "object"});
}

TEST(ModelConfigErrorTest, TieWordEmbeddingsDisagree) {
  ExpectInvalid(Edit9B([](json& j) { j["tie_word_embeddings"] = true; }),
                {"text_config.tie_word_embeddings (false) disagrees", "(true)"});
}

TEST(ModelConfigErrorTest, UnsupportedArchitecture) {
  ExpectInvalid(
      Edit9B([](json& j) { j["architectures"] = {"Qwen3_5MoeForConditionalGeneration"}; }),
      {"architectures[0]", "Qwen3_5MoeForConditionalGeneration"});
}

TEST(ModelConfigErrorTest, ArchitectureContradictsLayout) {
  ExpectInvalid(Edit9B([](json& j) { j["architectures"] = {"Qwen3_5ForCausalLM"}; }),
                {"architectures", "text_config"});
  ExpectInvalid(Mutate(k08BTextConfig,
                       [](json& j) { j["architectures"] = {"Qwen3_5ForConditionalGeneration"}; }),
                {"architectures", "no text_config"});
  ExpectInvalid(Mutate(k08BTextConfig, [](json& j) { j["model_type"] = "qwen3_5"; }),
                {"model_type", "qwen3_5_text"});
}

}  // namespace
}  // namespace qwen::core
