// The random-weight checkpoint writer (tools/qwen35/demo_checkpoint.h): the demo's bytes stay
// pinned, the 9b preset has the real Qwen3.5-9B config and tensor list, and a tiny checkpoint
// written through the 9b code path (parallel fill, streamed shards, F32 DeltaNet parameters)
// loads in our text and vision loaders and is the same for any thread count.
#include "tools/qwen35/demo_checkpoint.h"

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/config.h"
#include "core/safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "text_service/model/text_model.h"
#include "vision_service/model/vision_model.h"

namespace qwen::tools {
namespace {

namespace fs = std::filesystem;
using testing::ElementsAre;

class DemoCheckpointTest : public testing::Test {
 protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / absl::StrCat("qwen_demo_ckpt_", getpid(), "_", info->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

uint64_t Fnv1a(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  uint64_t h = 0xcbf29ce484222325ull;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h = (h ^ static_cast<unsigned char>(buf[i])) * 0x100000001b3ull;
    }
  }
  return h;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The 9b preset's code path at a size a test can write: every dimension small, special tokens
// moved inside the small vocabulary, shards of ~40 KB so there are several.
DemoCheckpointOptions TinyParallel() {
  DemoCheckpointOptions o = Qwen35Preset("9b").value();
  o.hidden_size = 64;
  o.num_layers = 4;
  o.vocab_size = 512;
  o.image_token_id = 500;
  o.video_token_id = 501;
  o.vision_start_token_id = 502;
  o.vision_end_token_id = 503;
  o.eos_token_ids = {504};
  o.pad_token_id = 504;
  o.intermediate_size = 128;
  o.num_attention_heads = 4;
  o.num_key_value_heads = 2;
  o.head_dim = 64;
  o.mrope_section = {3, 3, 2};
  o.linear_num_key_heads = 2;
  o.linear_num_value_heads = 4;
  o.linear_key_head_dim = 16;
  o.linear_value_head_dim = 16;
  o.vision_depth = 2;
  o.vision_hidden_size = 64;
  o.vision_intermediate_size = 96;
  o.vision_num_heads = 4;
  o.vision_out_hidden_size = 0;
  o.shard_bytes = 40'000;
  o.threads = 3;
  return o;
}

TEST_F(DemoCheckpointTest, DemoBytesArePinned) {
  // Hashes of `qwen35 make-demo-checkpoint --seed 3 --hidden-size 64 --layers 4` as written before
  // the 9b preset existed: demo bundles and the services' tests depend on these bytes.
  ASSERT_TRUE(WriteDemoCheckpoint(dir_, {.seed = 3, .hidden_size = 64, .num_layers = 4}).ok());
  EXPECT_EQ(Fnv1a(dir_ / "model.safetensors"), 0xad445269f934530full);
  EXPECT_EQ(Fnv1a(dir_ / "config.json"), 0xe0082b55e44b51eaull);
  EXPECT_EQ(Fnv1a(dir_ / "generation_config.json"), 0x80fe770a4bfbd4d5ull);
  EXPECT_FALSE(fs::exists(dir_ / kDemoCheckpointMarker));
}

TEST_F(DemoCheckpointTest, Preset9bConfigIsQwen35_9B) {
  absl::StatusOr<DemoCheckpointOptions> o = Qwen35Preset("9b");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_TRUE(WriteDemoCheckpointConfig(dir_, *o).ok());
  absl::StatusOr<core::ModelConfig> c = core::LoadModelConfig(dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "Qwen3_5ForConditionalGeneration");
  const core::TextConfig& t = c->text;
  EXPECT_EQ(t.hidden_size, 4096);
  EXPECT_EQ(t.num_hidden_layers, 32);
  EXPECT_EQ(t.intermediate_size, 12288);
  EXPECT_EQ(t.vocab_size, 248320);
  EXPECT_FALSE(t.tie_word_embeddings);
  EXPECT_EQ(t.num_attention_heads, 16);
  EXPECT_EQ(t.num_key_value_heads, 4);
  EXPECT_EQ(t.head_dim, 256);
  EXPECT_EQ(t.linear_num_key_heads, 16);
  EXPECT_EQ(t.linear_num_value_heads, 32);
  EXPECT_EQ(t.linear_key_head_dim, 128);
  EXPECT_EQ(t.linear_value_head_dim, 128);
  EXPECT_EQ(t.linear_conv_dim(), 8192);
  EXPECT_EQ(t.rotary_dim(), 64);
  EXPECT_THAT(t.mrope_section, ElementsAre(11, 11, 10));
  EXPECT_EQ(t.rope_theta, 1e7);
  EXPECT_EQ(t.max_position_embeddings, 262144);
  ASSERT_EQ(t.layer_types.size(), 32u);
  for (size_t i = 0; i < 32; ++i) {
    EXPECT_EQ(t.layer_types[i],
              i % 4 == 3 ? core::LayerType::kFullAttention : core::LayerType::kLinearAttention)
        << i;
  }
  EXPECT_EQ(t.num_layers_of(core::LayerType::kLinearAttention), 24);
  ASSERT_TRUE(c->vision.has_value());
  EXPECT_EQ(c->vision->depth, 27);
  EXPECT_EQ(c->vision->hidden_size, 1152);
  EXPECT_EQ(c->vision->intermediate_size, 4304);
  EXPECT_EQ(c->vision->num_heads, 16);
  EXPECT_EQ(c->vision->out_hidden_size, 4096);
  EXPECT_EQ(c->vision->patch_size, 16);
  EXPECT_EQ(c->vision->temporal_patch_size, 2);
  EXPECT_EQ(c->vision->spatial_merge_size, 2);
  EXPECT_EQ(c->vision->num_position_embeddings, 2304);
  EXPECT_EQ(c->image_token_id, 248056);
  absl::StatusOr<core::GenerationConfig> g = core::LoadGenerationConfig(dir_);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->eos_token_ids, ElementsAre(248046, 248044));
  // Only the two JSON files: the 19 GB of weights are not written by this test.
  EXPECT_FALSE(fs::exists(dir_ / "model.safetensors"));
}

TEST_F(DemoCheckpointTest, Preset9bTensorsMatchTheModelSpec) {
  const std::vector<DemoTensor> tensors = DemoCheckpointTensors(Qwen35Preset("9b").value());
  // shared/spec/MODEL.md 7: 14 per linear layer, 11 per full layer, embed + norm + lm_head; 12
  // per vision block + 9; parameter counts of 1.6.
  EXPECT_EQ(tensors.size(), 427u + 333u);
  int64_t text = 0, vision = 0;
  uint64_t bytes = 0;
  std::set<std::string> names;
  for (const DemoTensor& t : tensors) {
    EXPECT_TRUE(names.insert(t.name).second) << "duplicate " << t.name;
    const int64_t n = core::NumElements(t.shape);
    (t.name.rfind("model.visual.", 0) == 0 ? vision : text) += n;
    bytes += static_cast<uint64_t>(n) * core::DTypeSize(t.dtype);
    const bool f32 =
        t.name.ends_with("linear_attn.A_log") || t.name.ends_with("linear_attn.norm.weight");
    EXPECT_EQ(t.dtype, f32 ? core::DType::kF32 : core::DType::kBF16) << t.name;
  }
  EXPECT_EQ(text, 8'953'803'264);
  EXPECT_EQ(vision, 456'010'480);
  EXPECT_GT(bytes, 18'800'000'000u);
  EXPECT_LT(bytes, 18'900'000'000u);
  EXPECT_TRUE(names.count("lm_head.weight"));
  EXPECT_TRUE(names.count("model.language_model.layers.31.self_attn.q_norm.weight"));
  EXPECT_TRUE(names.count("model.language_model.layers.30.linear_attn.in_proj_qkv.weight"));
  EXPECT_TRUE(names.count("model.visual.blocks.26.mlp.linear_fc2.bias"));
  EXPECT_FALSE(Qwen35Preset("27b").ok());
  // 5 GB shards, as published checkpoints come.
  EXPECT_THAT(DemoCheckpointFiles(Qwen35Preset("9b").value()),
              ElementsAre("model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
                          "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors"));
  EXPECT_THAT(DemoCheckpointFiles(DemoCheckpointOptions{}), ElementsAre("model.safetensors"));
}

TEST_F(DemoCheckpointTest, TinyParallelCheckpointLoadsAndIsSane) {
  const DemoCheckpointOptions o = TinyParallel();
  absl::StatusOr<bool> wrote = EnsureDemoCheckpoint(dir_, o, /*force=*/false);
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_TRUE(*wrote);
  EXPECT_TRUE(fs::exists(dir_ / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir_ / "model.safetensors"));
  EXPECT_TRUE(fs::exists(dir_ / kDemoCheckpointMarker));

  absl::StatusOr<core::Checkpoint> ckpt = core::Checkpoint::Open(dir_);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const std::vector<DemoTensor> plan = DemoCheckpointTensors(o);
  EXPECT_EQ(ckpt->Names().size(), plan.size());
  for (const DemoTensor& t : plan) {
    SCOPED_TRACE(t.name);
    absl::StatusOr<core::Tensor> got = ckpt->Get(t.name, t.shape);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->dtype(), t.dtype);
    const core::Tensor f = got->ToF32();
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < f.numel(); ++i) {
      const float v = f.data<float>()[i];
      ASSERT_TRUE(std::isfinite(v));
      sum += v;
      sq += static_cast<double>(v - t.mean) * (v - t.mean);
    }
    if (f.numel() >= 4096) {  // big enough for the moments to be tight
      EXPECT_NEAR(sum / f.numel(), t.mean, 0.1 * t.std);
      EXPECT_NEAR(std::sqrt(sq / f.numel()), t.std, 0.05 * t.std);
    }
  }
  // Our own loaders take it as they take a real checkpoint.
  absl::StatusOr<std::unique_ptr<text::TextModel>> tm = text::TextModel::Load(dir_);
  EXPECT_TRUE(tm.ok()) << tm.status();
  absl::StatusOr<std::unique_ptr<vision::VisionModel>> vm = vision::VisionModel::Load(dir_);
  EXPECT_TRUE(vm.ok()) << vm.status();
}

TEST_F(DemoCheckpointTest, ParallelBytesDoNotDependOnThreadsAndFollowTheSeed) {
  DemoCheckpointOptions o = TinyParallel();
  o.shard_bytes = 0;
  o.threads = 1;
  ASSERT_TRUE(WriteDemoCheckpoint(dir_ / "one", o).ok());
  o.threads = 7;
  ASSERT_TRUE(WriteDemoCheckpoint(dir_ / "seven", o).ok());
  o.seed = 1;
  ASSERT_TRUE(WriteDemoCheckpoint(dir_ / "seed1", o).ok());
  const std::string one = ReadFile(dir_ / "one" / "model.safetensors");
  ASSERT_GT(one.size(), 100'000u);
  EXPECT_EQ(one, ReadFile(dir_ / "seven" / "model.safetensors"));
  EXPECT_NE(one, ReadFile(dir_ / "seed1" / "model.safetensors"));
}

TEST_F(DemoCheckpointTest, MarkerReusesOnlyAMatchingCompleteCheckpoint) {
  DemoCheckpointOptions o = TinyParallel();
  ASSERT_TRUE(EnsureDemoCheckpoint(dir_, o, false).value());
  EXPECT_FALSE(EnsureDemoCheckpoint(dir_, o, false).value());  // reused
  o.threads = 1;                                               // does not change the bytes
  EXPECT_FALSE(EnsureDemoCheckpoint(dir_, o, false).value());
  EXPECT_TRUE(EnsureDemoCheckpoint(dir_, o, /*force=*/true).value());

  // A truncated shard (an interrupted copy, say) is not complete.
  fs::path shard;
  int shards = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    if (e.path().filename().string().rfind("model-", 0) == 0) shard = e.path(), ++shards;
  }
  ASSERT_GT(shards, 2);
  fs::resize_file(shard, fs::file_size(shard) - 1);
  EXPECT_TRUE(EnsureDemoCheckpoint(dir_, o, false).value());
  EXPECT_FALSE(EnsureDemoCheckpoint(dir_, o, false).value());

  // Other options rewrite, and switching to one file removes the shards and the index.
  o.seed = 9;
  o.shard_bytes = 0;
  EXPECT_TRUE(EnsureDemoCheckpoint(dir_, o, false).value());
  EXPECT_TRUE(fs::exists(dir_ / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir_ / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(shard));
  EXPECT_TRUE(core::Checkpoint::Open(dir_).ok());

  // WriteDemoCheckpoint drops a marker it would otherwise leave describing other bytes.
  ASSERT_TRUE(WriteDemoCheckpoint(dir_, o).ok());
  EXPECT_FALSE(fs::exists(dir_ / kDemoCheckpointMarker));
}

TEST_F(DemoCheckpointTest, InconsistentOptionsAreRejected) {
  DemoCheckpointOptions o = TinyParallel();
  o.mrope_section = {11, 11, 10};  // head_dim 64 rotates 16 dims: the sections must sum to 8
  absl::Status s = WriteDemoCheckpoint(dir_, o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  o = TinyParallel();
  o.pad_token_id = o.vocab_size;
  EXPECT_EQ(WriteDemoCheckpoint(dir_, o).code(), absl::StatusCode::kInvalidArgument);
  o = TinyParallel();
  o.linear_num_value_heads = 3;
  EXPECT_EQ(WriteDemoCheckpoint(dir_, o).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qwen::tools
