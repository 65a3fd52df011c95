// The vision service over real gRPC on loopback, with a random-weight demo checkpoint: embeddings
// equal an independent pre-process + VisionModel::Forward (F32 exactly, BF16 to rounding), chunking,
// videos (frames and containers), cross-request batching, the result cache, INVALID_ARGUMENT naming
// the item, cancellation and deadlines freeing queued work, queue limits, drain.
#include <grpcpp/grpcpp.h>

#include <cmath>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "qwen35/v1/vision.grpc.pb.h"
#include "server_common/server_runner.h"
#include "tools/qwen35/demo_checkpoint.h"
#include "vision_service/preprocess/decode_image.h"
#include "vision_service/preprocess/image_preprocessor.h"
#include "vision_service/preprocess/video_preprocessor.h"
#include "vision_service/model/vision_model.h"
#include "vision_service/server/encode_helpers.h"
#include "vision_service/server/vision_metrics.h"
#include "vision_service/server/vision_model_encoder.h"
#include "vision_service/server/vision_servicer.h"

namespace qwen::vision {
namespace {

namespace fs = std::filesystem;
namespace pb = qwen35::v1;
using ::testing::HasSubstr;

fs::path SourceRoot() { return fs::path(QWEN_SOURCE_DIR); }

// Random-noise picture, PNG-encoded.
std::string Png(int width, int height, int seed) {
  cv::Mat m(height, width, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  std::vector<uchar> buf;
  cv::imencode(".png", m, buf);
  return std::string(buf.begin(), buf.end());
}

// A lossless FFV1/MKV clip of `frames` noise frames (64x48 at 10 fps), as bytes.
std::string Clip(int frames) {
  const fs::path path = fs::temp_directory_path() / ("qwen_vision_clip_" + std::to_string(getpid()) + ".mkv");
  {
    cv::VideoWriter writer;
    if (!writer.open(path.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 10.0,
                     cv::Size(64, 48), true)) {
      return "";
    }
    cv::RNG rng(3);
    for (int t = 0; t < frames; ++t) {
      cv::Mat m(48, 64, CV_8UC3);
      rng.fill(m, cv::RNG::UNIFORM, 0, 256);
      writer.write(m);
    }
  }
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  fs::remove(path);
  return bytes;
}

std::vector<float> Floats(const core::Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

// Lets the first `passes` encoder calls through, then blocks each call until Open().
class GatedEncoder final : public BatchEncoder {
 public:
  GatedEncoder(BatchEncoder* inner, int passes) : inner_(inner), passes_(passes) {}
  EncoderInfo info() const override { return inner_->info(); }
  absl::StatusOr<BatchEncoderOutput> Encode(const core::Tensor& pixels, std::span<const ItemGrid> grids) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (passes_ > 0) {
        --passes_;
      } else {
        ++blocked_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return open_; });
      }
    }
    return inner_->Encode(pixels, grids);
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool WaitBlocked(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return blocked_ >= n; });
  }

 private:
  BatchEncoder* inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int passes_;
  int blocked_ = 0;
  bool open_ = false;
};

// Collects a scheduler request's callbacks.
class Collector final : public EncodeObserver {
 public:
  void OnItem(int64_t, const ItemResult&) override {}
  void OnDone(const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    done_ = true;
    cv_.notify_all();
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  absl::Status status_;
  bool done_ = false;
};

struct ItemOut {
  pb::ItemHeader header;
  std::string bytes;
  std::vector<size_t> chunk_sizes;
  bool done = false;
  double encode_s = -1;
};

struct EncodeOut {
  grpc::Status status;
  std::map<int, ItemOut> items;
  bool ordered = true;  // header, chunks, done per item; items in increasing order
};

class VisionServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("qwen_vision_service_" + std::to_string(getpid())));
    fs::remove_all(*dir_);
    tools::DemoCheckpointOptions o{.seed = 7, .hidden_size = 256, .num_layers = 4, .vocab_size = 1024,
                                   .image_token_id = 1000, .video_token_id = 1001, .vision_start_token_id = 1002,
                                   .vision_end_token_id = 1003, .eos_token_ids = {1004}, .pad_token_id = 1004};
    ASSERT_TRUE(tools::WriteDemoCheckpoint(*dir_, o).ok());
    auto m = VisionModel::Load(*dir_);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = m->release();
    // Real-format configs (small pixel budget: at most 256 merged tokens per image).
    auto configs = LoadProcessorConfigs(SourceRoot() / "tests/reference/image_preprocess_gif/preprocessor_config.json",
                                        SourceRoot() / "tests/reference/video_preprocess_nofps/video_preprocessor_config.json");
    ASSERT_TRUE(configs.ok()) << configs.status();
    configs_ = new ProcessorConfigs(*configs);
  }
  static void TearDownTestSuite() {
    delete model_;
    delete configs_;
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
  }

  void StartServer(SchedulerOptions options = {}, EncodeLimits limits = {}, int gate_passes = -1) {
    model_encoder_ = std::make_unique<VisionModelEncoder>(model_, VisionContext{.num_threads = 1});
    BatchEncoder* encoder = model_encoder_.get();
    if (gate_passes >= 0) {
      gate_ = std::make_unique<GatedEncoder>(encoder, gate_passes);
      encoder = gate_.get();
    }
    ASSERT_TRUE(CheckProcessorMatchesEncoder(*configs_, encoder->info()).ok());
    preprocessor_ = std::make_unique<MediaPreprocessor>(*configs_, limits);
    scheduler_ = std::make_unique<EncodeScheduler>(encoder, preprocessor_.get(), options);
    runner_ = std::make_unique<serving::ServerRunner>(serving::ServerOptions{
        .listen_address = "127.0.0.1:0", .drain_timeout = std::chrono::seconds(5),
        .service_name = "qwen35.v1.VisionEncoder"});
    metrics_ = std::make_unique<VisionMetrics>(runner_->metrics());
    service_ = std::make_unique<VisionServicer>(scheduler_.get(), metrics_.get(), "demo");
    ASSERT_TRUE(runner_->Start({service_.get()}).ok());
    runner_->SetReady(true);
    stub_ = pb::VisionEncoder::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(runner_->bound_port()),
                                                           grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (gate_) gate_->Open();
    if (runner_) runner_->server()->Shutdown(std::chrono::system_clock::now());
    scheduler_.reset();
  }

  // Reads the whole stream; `cancel_when` (if set) is asked after each message and cancels the call.
  EncodeOut Encode(const pb::EncodeRequest& req, std::chrono::milliseconds deadline = std::chrono::seconds(60),
                   const std::function<bool(const pb::EncodeResponse&)>& cancel_when = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    auto reader = stub_->Encode(&ctx, req);
    EncodeOut out;
    pb::EncodeResponse msg;
    int last = -1;
    while (reader->Read(&msg)) {
      const int i = static_cast<int>(msg.item_index());
      ItemOut& item = out.items[i];
      if (msg.has_header()) {
        out.ordered &= i == last + 1 && !item.header.has_grid();
        last = i;
        item.header = msg.header();
      } else if (msg.has_chunk()) {
        out.ordered &= i == last && !item.done;
        item.bytes += msg.chunk();
        item.chunk_sizes.push_back(msg.chunk().size());
      } else if (msg.has_done()) {
        out.ordered &= i == last && !item.bytes.empty();
        item.done = true;
        item.encode_s = msg.done().encode_s();
      }
      if (cancel_when && cancel_when(msg)) ctx.TryCancel();
    }
    out.status = reader->Finish();
    return out;
  }

  static pb::EncodeRequest Images(const std::vector<std::string>& images, pb::DType dtype = pb::DTYPE_F32,
                                  uint32_t max_chunk_bytes = 0) {
    pb::EncodeRequest req;
    req.set_request_id("test");
    for (const std::string& b : images) {
      pb::MediaItem* item = req.add_items();
      item->set_modality(pb::MODALITY_IMAGE);
      item->set_encoded(b);
    }
    req.set_output_dtype(dtype);
    req.set_max_chunk_bytes(max_chunk_bytes);
    return req;
  }

  // The independent computation: pre-process + one VisionModel::Forward of the item alone.
  static std::vector<float> ExpectedImage(const std::string& bytes, ItemGrid* grid) {
    auto p = PreprocessEncodedImage(bytes, configs_->image);
    EXPECT_TRUE(p.ok()) << p.status();
    GridThw g{.t = 1, .h = p->grid.h, .w = p->grid.w};
    *grid = {g.t, g.h, g.w};
    auto out = model_->Forward({.num_threads = 1}, p->pixel_values, std::span<const GridThw>(&g, 1));
    EXPECT_TRUE(out.ok()) << out.status();
    return Floats(out->embeds);
  }

  bool WaitIdle() {
    for (int i = 0; i < 500; ++i) {
      SchedulerStats s = scheduler_->stats();
      if (s.running == 0 && s.waiting == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  static fs::path* dir_;
  static VisionModel* model_;
  static ProcessorConfigs* configs_;
  std::unique_ptr<VisionModelEncoder> model_encoder_;
  std::unique_ptr<GatedEncoder> gate_;
  std::unique_ptr<MediaPreprocessor> preprocessor_;
  std::unique_ptr<EncodeScheduler> scheduler_;
  std::unique_ptr<serving::ServerRunner> runner_;
  std::unique_ptr<VisionMetrics> metrics_;
  std::unique_ptr<VisionServicer> service_;
  std::unique_ptr<pb::VisionEncoder::Stub> stub_;
};

fs::path* VisionServiceTest::dir_ = nullptr;
VisionModel* VisionServiceTest::model_ = nullptr;
ProcessorConfigs* VisionServiceTest::configs_ = nullptr;

TEST_F(VisionServiceTest, ImageEqualsIndependentForwardInF32AndBf16) {
  StartServer();
  const std::string png = Png(200, 150, 1);
  ItemGrid grid;
  const std::vector<float> expected = ExpectedImage(png, &grid);
  const int64_t tokens = grid.num_patches() / 4;
  ASSERT_EQ(static_cast<int64_t>(expected.size()), tokens * 256);

  EncodeOut f32 = Encode(Images({png}, pb::DTYPE_F32, 1001));
  ASSERT_TRUE(f32.status.ok()) << f32.status.error_message();
  ASSERT_EQ(f32.items.size(), 1u);
  EXPECT_TRUE(f32.ordered);
  const ItemOut& a = f32.items[0];
  EXPECT_EQ(a.header.content_hash(), Sha256Hex(png));
  EXPECT_EQ(a.header.grid().t(), 1u);
  EXPECT_EQ(a.header.grid().h(), grid.h);
  EXPECT_EQ(a.header.grid().w(), grid.w);
  EXPECT_EQ(a.header.num_tokens(), tokens);
  EXPECT_EQ(a.header.hidden_size(), 256u);
  EXPECT_EQ(a.header.dtype(), pb::DTYPE_F32);
  EXPECT_FALSE(a.header.cache_hit());
  EXPECT_TRUE(a.done);
  EXPECT_GE(a.encode_s, 0.0);
  ASSERT_EQ(a.bytes.size(), expected.size() * 4);
  EXPECT_EQ(std::memcmp(a.bytes.data(), expected.data(), a.bytes.size()), 0);
  EXPECT_GT(a.chunk_sizes.size(), 1u);
  for (size_t n : a.chunk_sizes) {
    EXPECT_LE(n, 1001u);
    EXPECT_EQ(n % 4, 0u);  // whole elements per chunk
  }

  EncodeOut bf16 = Encode(Images({png}, pb::DTYPE_UNSPECIFIED));  // default dtype = BF16
  ASSERT_TRUE(bf16.status.ok()) << bf16.status.error_message();
  const ItemOut& b = bf16.items[0];
  EXPECT_EQ(b.header.dtype(), pb::DTYPE_BF16);
  ASSERT_EQ(b.bytes.size(), expected.size() * 2);
  for (size_t i = 0; i < expected.size(); ++i) {
    core::BFloat16 v;
    std::memcpy(&v.bits, b.bytes.data() + 2 * i, 2);
    ASSERT_EQ(v.bits, core::F32ToBF16(expected[i]).bits) << i;
    ASSERT_LE(std::fabs(core::BF16ToF32(v) - expected[i]), std::ldexp(std::fabs(expected[i]), -8)) << i;
  }
  for (size_t n : b.chunk_sizes) EXPECT_LE(n, kDefaultChunkBytes);

  // A chunk limit below one element is refused; one above 4 MiB is clamped (not an error).
  EncodeOut tiny = Encode(Images({png}, pb::DTYPE_BF16, 1));
  EXPECT_EQ(tiny.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(tiny.status.error_message(), HasSubstr("max_chunk_bytes"));
  EncodeOut huge = Encode(Images({png}, pb::DTYPE_F32, 64u << 20));
  ASSERT_TRUE(huge.status.ok()) << huge.status.error_message();
  for (size_t n : huge.items[0].chunk_sizes) EXPECT_LE(n, kMaxChunkBytes);
}

TEST_F(VisionServiceTest, VideoFramesReturnTemporalGroupsAndTimestamps) {
  StartServer();
  pb::EncodeRequest req;
  req.set_output_dtype(pb::DTYPE_F32);
  pb::MediaItem* item = req.add_items();
  item->set_modality(pb::MODALITY_VIDEO);
  std::vector<RgbImage> frames;
  for (int t = 0; t < 8; ++t) {
    const std::string png = Png(96, 64, 100 + t);
    item->mutable_frames()->add_frames(png);
    auto d = DecodeImage(png);
    ASSERT_TRUE(d.ok()) << d.status();
    frames.push_back(d->image);
  }
  item->mutable_frames()->set_fps(4.0);
  // Independent: sample (8 frames at 4 fps, 2 fps target -> 4 frames), pre-process, Forward.
  auto v = PreprocessVideoFrames(frames, 4.0, configs_->video);
  ASSERT_TRUE(v.ok()) << v.status();
  GridThw g{.t = v->grid.t, .h = v->grid.h, .w = v->grid.w};
  auto fwd = model_->Forward({.num_threads = 1}, v->pixel_values_videos, std::span<const GridThw>(&g, 1));
  ASSERT_TRUE(fwd.ok()) << fwd.status();

  EncodeOut out = Encode(req);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  const ItemOut& r = out.items[0];
  EXPECT_EQ(r.header.grid().t(), 2u);  // 4 sampled frames / temporal_patch_size 2
  EXPECT_EQ(r.header.grid().t(), g.t);
  EXPECT_EQ(r.header.grid().h(), g.h);
  EXPECT_EQ(r.header.grid().w(), g.w);
  EXPECT_EQ(r.header.num_tokens(), g.t * g.h * g.w / 4);
  ASSERT_EQ(r.header.timestamps_s_size(), 2);
  for (int i = 0; i < 2; ++i) EXPECT_DOUBLE_EQ(r.header.timestamps_s(i), v->timestamps[i]);
  const std::vector<float> expected = Floats(fwd->embeds);
  ASSERT_EQ(r.bytes.size(), expected.size() * 4);
  EXPECT_EQ(std::memcmp(r.bytes.data(), expected.data(), r.bytes.size()), 0);
}

TEST_F(VisionServiceTest, EncodedVideoContainer) {
  StartServer();
  const std::string bytes = Clip(10);
  ASSERT_FALSE(bytes.empty());
  auto v = PreprocessVideoBytes(bytes, configs_->video);
  ASSERT_TRUE(v.ok()) << v.status();
  pb::EncodeRequest req;
  req.set_output_dtype(pb::DTYPE_F32);
  req.add_items()->set_modality(pb::MODALITY_VIDEO);
  req.mutable_items(0)->set_encoded(bytes);
  EncodeOut out = Encode(req);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  const ItemOut& r = out.items[0];
  EXPECT_EQ(r.header.grid().t(), v->grid.t);
  EXPECT_EQ(r.header.grid().h(), v->grid.h);
  EXPECT_EQ(r.header.grid().w(), v->grid.w);
  ASSERT_EQ(r.header.timestamps_s_size(), static_cast<int>(v->timestamps.size()));
  for (size_t i = 0; i < v->timestamps.size(); ++i) EXPECT_DOUBLE_EQ(r.header.timestamps_s(i), v->timestamps[i]);
  EXPECT_EQ(r.bytes.size(), r.header.num_tokens() * 256u * 4u);
}

TEST_F(VisionServiceTest, ConcurrentRequestsShareABatchAndGetTheirOwnResults) {
  const std::string a = Png(200, 150, 11), b = Png(120, 160, 12);
  ItemGrid ga, gb;
  const std::vector<float> ea = ExpectedImage(a, &ga), eb = ExpectedImage(b, &gb);
  // The batch closes when both items are ready (or after 5 s).
  StartServer({.preprocess_threads = 2, .max_batch_patches = ga.num_patches() + gb.num_patches(),
               .batch_wait = std::chrono::milliseconds(5000)});
  EncodeOut ra, rb;
  std::thread ta([&] { ra = Encode(Images({a})); });
  std::thread tb([&] { rb = Encode(Images({b})); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.status.ok()) << ra.status.error_message();
  ASSERT_TRUE(rb.status.ok()) << rb.status.error_message();
  SchedulerStats s = scheduler_->stats();
  EXPECT_EQ(s.batches, 1);
  EXPECT_EQ(s.multi_request_batches, 1);
  EXPECT_EQ(s.max_batch_items, 2);
  ASSERT_EQ(ra.items[0].bytes.size(), ea.size() * 4);
  ASSERT_EQ(rb.items[0].bytes.size(), eb.size() * 4);
  // Rows of a varlen batch are computed as alone (per-frame attention, row-wise layers).
  EXPECT_EQ(std::memcmp(ra.items[0].bytes.data(), ea.data(), ea.size() * 4), 0);
  EXPECT_EQ(std::memcmp(rb.items[0].bytes.data(), eb.data(), eb.size() * 4), 0);
}

TEST_F(VisionServiceTest, SecondIdenticalRequestIsACacheHitWithIdenticalBytes) {
  StartServer();
  const std::string png = Png(160, 160, 5);
  EncodeOut first = Encode(Images({png}, pb::DTYPE_BF16));
  EncodeOut second = Encode(Images({png}, pb::DTYPE_BF16));
  ASSERT_TRUE(first.status.ok() && second.status.ok());
  EXPECT_FALSE(first.items[0].header.cache_hit());
  EXPECT_TRUE(second.items[0].header.cache_hit());
  EXPECT_EQ(first.items[0].bytes, second.items[0].bytes);
  EXPECT_EQ(first.items[0].header.content_hash(), second.items[0].header.content_hash());
  SchedulerStats s = scheduler_->stats();
  EXPECT_EQ(s.batches, 1);
  EXPECT_EQ(s.cache.hits, 1);
  EXPECT_EQ(s.cache.misses, 1);
  EXPECT_EQ(s.items_image, 2);
  metrics_->Update(s);
  double hits = -1;
  for (const auto& family : runner_->metrics().Collect()) {
    if (family.name == "qwen35_vision_cache_hits_total") hits = family.metric.at(0).counter.value;
  }
  EXPECT_EQ(hits, 1.0);
}

TEST_F(VisionServiceTest, BadInputsAreInvalidArgumentNamingTheItem) {
  StartServer({}, {.max_items_per_request = 4, .max_image_bytes = 300000, .max_pixels_per_image = 1000 * 1000,
                   .max_video_frames = 6});
  const std::string good = Png(64, 64, 1);
  auto expect_invalid = [&](const pb::EncodeRequest& req, std::vector<std::string> parts) {
    EncodeOut out = Encode(req);
    EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << out.status.error_message();
    for (const std::string& p : parts) EXPECT_THAT(out.status.error_message(), HasSubstr(p));
  };
  expect_invalid(Images({good, "this is not an image at all"}), {"items[1]"});
  const std::string truncated = good.substr(0, good.size() / 2);
  expect_invalid(Images({good, good, truncated}), {"items[2]"});
  expect_invalid(Images({good, good, good, good, good}), {"items[4]", "5 items", "max_items_per_request = 4"});
  // 1200x1000 (a flat picture: few bytes, many pixels) against max_pixels_per_image.
  std::vector<uchar> flat;
  cv::imencode(".png", cv::Mat(1000, 1200, CV_8UC3, cv::Scalar(10, 20, 30)), flat);
  expect_invalid(Images({good, std::string(flat.begin(), flat.end())}),
                 {"items[1]", "1200x1000", "max_pixels_per_image = 1000000"});
  const std::string big = Png(400, 300, 2);  // ~360 KB of noise
  ASSERT_GT(big.size(), 300000u);
  expect_invalid(Images({big}), {"items[0]", std::to_string(big.size()), "max_image_bytes = 300000"});
  pb::EncodeRequest video;
  video.add_items()->set_modality(pb::MODALITY_VIDEO);
  for (int t = 0; t < 8; ++t) video.mutable_items(0)->mutable_frames()->add_frames(good);
  expect_invalid(video, {"items[0]", "8 frames", "max_video_frames = 6"});
  pb::EncodeRequest clip;  // the container's frame count is checked when it is opened
  clip.add_items()->set_modality(pb::MODALITY_IMAGE);
  clip.mutable_items(0)->set_encoded(good);
  clip.add_items()->set_modality(pb::MODALITY_VIDEO);
  clip.mutable_items(1)->set_encoded(Clip(10));
  expect_invalid(clip, {"items[1]", "frames exceeds max_video_frames = 6"});
  pb::EncodeRequest empty;
  empty.add_items()->set_modality(pb::MODALITY_IMAGE);
  expect_invalid(empty, {"items[0]"});
  expect_invalid(Images({good}, pb::DTYPE_I64), {"output_dtype"});
  expect_invalid(pb::EncodeRequest(), {"no items"});
  EXPECT_TRUE(WaitIdle());
  // Nothing leaked: a good request still works.
  EXPECT_TRUE(Encode(Images({good})).status.ok());
}

TEST_F(VisionServiceTest, CancelMidStreamFreesQueuedWork) {
  const std::string imgs[4] = {Png(128, 128, 21), Png(128, 128, 22), Png(128, 128, 23), Png(128, 128, 24)};
  ItemGrid g;
  ExpectedImage(imgs[0], &g);
  // One worker (items become ready in order), one item per batch; the encoder lets the first
  // batch (items[0]) through and then blocks.
  StartServer({.preprocess_threads = 1, .max_batch_patches = g.num_patches(),
               .batch_wait = std::chrono::milliseconds(0)},
              {}, /*gate_passes=*/1);
  EncodeOut out = Encode(Images({imgs[0], imgs[1], imgs[2], imgs[3]}), std::chrono::seconds(10),
                         [](const pb::EncodeResponse& m) { return m.has_done(); });
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(out.items[0].done);
  // Freed while the encoder is still stuck on items[1]: the queued items were dropped.
  EXPECT_TRUE(WaitIdle());
  SchedulerStats s = scheduler_->stats();
  EXPECT_EQ(s.requests_done, 1);
  EXPECT_GE(s.dropped_items, 1);
  EXPECT_EQ(s.queued_items, 0);
  EXPECT_EQ(s.ready_items, 0);
  gate_->Open();
}

TEST_F(VisionServiceTest, DeadlineExceededFreesQueuedWork) {
  StartServer({.batch_wait = std::chrono::milliseconds(0)}, {}, /*gate_passes=*/0);
  EncodeOut out = Encode(Images({Png(128, 128, 31), Png(64, 64, 32)}), std::chrono::milliseconds(500));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(WaitIdle());
  EXPECT_EQ(scheduler_->stats().requests_done, 1);
  gate_->Open();
}

TEST_F(VisionServiceTest, FullQueueIsResourceExhausted) {
  // One worker that pauses while anything is ready; the encoder blocks: A is in the encoder, B is
  // ready, C waits for the worker -> a fourth request finds the queue (max 1 waiting) full.
  StartServer({.preprocess_threads = 1, .batch_wait = std::chrono::milliseconds(0), .max_ready_patches = 1},
              {.max_queue = 1}, /*gate_passes=*/0);
  const std::string imgs[3] = {Png(64, 64, 41), Png(64, 64, 42), Png(64, 64, 43)};
  Collector ca, cb, cc;
  std::vector<MediaInput> in(3);
  for (int i = 0; i < 3; ++i) in[i].encoded = imgs[i];
  ASSERT_TRUE(scheduler_->Submit("a", {in[0]}, &ca).ok());
  ASSERT_TRUE(gate_->WaitBlocked(1));
  ASSERT_TRUE(scheduler_->Submit("b", {in[1]}, &cb).ok());
  for (int i = 0; i < 500 && scheduler_->stats().ready_items < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(scheduler_->Submit("c", {in[2]}, &cc).ok());
  EXPECT_EQ(scheduler_->stats().waiting, 1);
  EncodeOut out = Encode(Images({Png(64, 64, 44)}));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(out.status.error_message(), HasSubstr("max_queue = 1"));
  pb::LoadReport load;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->GetLoad(&ctx, pb::GetLoadRequest(), &load).ok());
  EXPECT_EQ(load.num_waiting(), 1u);
  EXPECT_EQ(load.num_running(), 2u);
  gate_->Open();
  EXPECT_TRUE(ca.Wait().ok());
  EXPECT_TRUE(cb.Wait().ok());
  EXPECT_TRUE(cc.Wait().ok());
}

TEST_F(VisionServiceTest, DrainingIsUnavailableAndModelInfo) {
  StartServer();
  pb::VisionModelInfo info;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->GetModelInfo(&ctx, pb::GetVisionModelInfoRequest(), &info).ok());
  }
  EXPECT_EQ(info.model_id(), "demo");
  EXPECT_EQ(info.patch_size(), 16u);
  EXPECT_EQ(info.temporal_patch_size(), 2u);
  EXPECT_EQ(info.spatial_merge_size(), 2u);
  EXPECT_EQ(info.out_hidden_size(), 256u);
  service_->SetDraining();
  EncodeOut out = Encode(Images({Png(64, 64, 1)}));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  pb::LoadReport load;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->GetLoad(&ctx, pb::GetLoadRequest(), &load).ok());
  EXPECT_TRUE(load.draining());
  // The warm-up picture encodes through the scheduler (main() does this before readiness).
  MediaInput in;
  const std::string bmp = SyntheticBmp(64, 48);
  in.encoded = bmp;
  auto warm = EncodeSync(*scheduler_, "warm-up", {in});
  ASSERT_TRUE(warm.ok()) << warm.status();
  EXPECT_EQ((*warm)[0].item->num_tokens * 4, (*warm)[0].item->grid.num_patches());
  // The scheduler refuses too once it stops accepting (the drain calls both).
  scheduler_->StopAccepting();
  EXPECT_EQ(EncodeSync(*scheduler_, "late", {in}).status().code(), absl::StatusCode::kUnavailable);
}

TEST(EmbeddingCacheTest, EvictsLeastRecentlyUsedWithinTheByteBudget) {
  auto item = [](int64_t tokens) {
    auto e = std::make_shared<EncodedItem>();
    e->embeds = core::Tensor::Zeros({tokens, 16}, core::DType::kF32);
    return e;
  };
  const size_t one = item(10)->bytes() + 1;  // + the 1-byte key
  EmbeddingCache cache(3 * one);
  cache.Insert("a", item(10));
  cache.Insert("b", item(10));
  cache.Insert("c", item(10));
  EXPECT_NE(cache.Lookup("a"), nullptr);  // a is now the most recent
  cache.Insert("d", item(10));            // evicts b
  EXPECT_EQ(cache.Lookup("b"), nullptr);
  EXPECT_NE(cache.Lookup("c"), nullptr);
  EXPECT_NE(cache.Lookup("d"), nullptr);
  cache.Insert("huge", item(1000));  // larger than the budget: not kept, nothing evicted
  EXPECT_EQ(cache.Lookup("huge"), nullptr);
  CacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 3);
  EXPECT_EQ(s.evictions, 1);
  EXPECT_LE(s.bytes, 3 * one);
  EXPECT_EQ(s.hits, 3);
  EXPECT_EQ(s.misses, 2);
}

TEST(ProcessorConfigsTest, MissingFilesFallBackToTheShippedValues) {
  auto c = LoadProcessorConfigs("/nonexistent/preprocessor_config.json", "/nonexistent/video_preprocessor_config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->image.max_pixels, Qwen35ImageProcessorConfig().max_pixels);
  EXPECT_EQ(c->video.image.max_pixels, Qwen35VideoProcessorConfig().image.max_pixels);
  EXPECT_EQ(c->video.fps, Qwen35VideoProcessorConfig().fps);
}

}  // namespace
}  // namespace qwen::vision
