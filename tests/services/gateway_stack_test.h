// The whole stack in one process over loopback gRPC, for the gateway's end-to-end tests: real text
// replicas (TextServicer over an Engine over a TextModel loaded from a demo checkpoint whose vocab
// and special ids match tests/reference/tokenizer_qwen35_small), a fake vision service with
// deterministic embeddings, and the gateway itself. Header-only so each gateway_*_test.cc can use
// it; test code only.
#pragma once

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/dtype.h"
#include "gateway/orchestrator/chat_pipeline.h"
#include "gateway/server/gateway_servicer.h"
#include "gtest/gtest.h"
#include "qwen35/v1/gateway.grpc.pb.h"
#include "qwen35/v1/text.grpc.pb.h"
#include "qwen35/v1/vision.grpc.pb.h"
#include "server_common/server_runner.h"
#include "text_service/engine/engine.h"
#include "text_service/server/text_servicer.h"
#include "tools/qwen35/demo_checkpoint.h"

namespace qwen::gateway::testing {

namespace pb = qwen35::v1;
namespace fs = std::filesystem;

inline constexpr int64_t kHidden = 64;

inline std::string ReadRepoFile(const std::string& rel) {
  std::ifstream f(fs::path(QWEN_SOURCE_DIR) / rel, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// tokenizer.json + tokenizer_config.json + chat_template.jinja + config.json + weights, written
// once per test binary into a temp dir that is removed at exit.
class TempBundle {
 public:
  TempBundle() : dir_(fs::temp_directory_path() / ("qwen_gateway_bundle_" + std::to_string(getpid()))) {
    fs::create_directories(dir_);
    const fs::path tok = fs::path(QWEN_SOURCE_DIR) / "tests/reference/tokenizer_qwen35_small";
    fs::copy_file(tok / "tokenizer.json", dir_ / "tokenizer.json", fs::copy_options::overwrite_existing);
    fs::copy_file(tok / "tokenizer_config.json", dir_ / "tokenizer_config.json", fs::copy_options::overwrite_existing);
    fs::path tmpl = fs::path(QWEN_SOURCE_DIR) / "tests/reference/chat_template_qwen35/chat_template.jinja";
    fs::copy_file(tmpl, dir_ / "chat_template.jinja", fs::copy_options::overwrite_existing);
    // The small tokenizer's ids: 2036 <|endoftext|>, 2038 <|im_end|>, 2045/2046 vision start/end,
    // 2048 <|image_pad|>, 2049 <|video_pad|>; 2069 ids in all, so every sampled id is a token.
    absl::Status s = tools::WriteDemoCheckpoint(dir_, {.seed = 7, .hidden_size = kHidden, .num_layers = 4,
                                                       .vocab_size = 2069, .image_token_id = 2048,
                                                       .video_token_id = 2049, .vision_start_token_id = 2045,
                                                       .vision_end_token_id = 2046, .eos_token_ids = {2038, 2036},
                                                       .pad_token_id = 2036,
                                                       // A tied random head keeps repeating tokens
                                                       // and never says EOS: the tests rely on that.
                                                       .tie_word_embeddings = true});
    EXPECT_TRUE(s.ok()) << s;
  }
  ~TempBundle() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};
inline const fs::path& BundleDir() {
  static const TempBundle bundle;
  return bundle.dir();
}

// Deterministic embedding value of row r, column c of the item whose data is `key`.
inline float FakeValue(const std::string& key, int64_t r, int64_t c) {
  return static_cast<float>(std::hash<std::string>()(key) % 97) * 0.01f + static_cast<float>(r) * 0.1f +
         static_cast<float>(c) * 0.001f;
}
// Bytes of the fake embeddings: images F32, videos BF16 (the gateway passes either through).
inline std::string FakeEmbeddings(const std::string& key, int64_t rows, bool bf16) {
  std::string out;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < kHidden; ++c) {
      const float v = FakeValue(key, r, c);
      if (bf16) {
        core::BFloat16 b = core::F32ToBF16(v);
        out.append(reinterpret_cast<const char*>(&b), sizeof(b));
      } else {
        out.append(reinterpret_cast<const char*>(&v), sizeof(v));
      }
    }
  }
  return out;
}
inline double FakeTimestamp(int64_t group) { return 0.5 + 2.0 * static_cast<double>(group); }

// Items are "image:H:W", "video:T:H:W", "reject" (INVALID_ARGUMENT) or "slow" (waits for cancel).
class FakeVision final : public pb::VisionEncoder::Service {
 public:
  grpc::Status Encode(grpc::ServerContext* context, const pb::EncodeRequest* request,
                      grpc::ServerWriter<pb::EncodeResponse>* writer) override {
    const std::string& data = request->items(0).encoded();
    {
      std::lock_guard<std::mutex> lock(mu);
      items.push_back(data);
      request_ids.push_back(request->request_id());
      auto it = context->client_metadata().find("x-request-id");
      metadata_ids.push_back(it == context->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size()));
      items_per_call.push_back(request->items_size());
    }
    if (data == "reject") return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "item 0: cannot decode the image");
    if (data == "slow") {
      for (int i = 0; i < 1000 && !context->IsCancelled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (context->IsCancelled()) ++cancelled;
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    std::vector<std::string> f = absl::StrSplit(data, ':');
    const bool video = f[0] == "video";
    int64_t t = 1, h = 0, w = 0;
    EXPECT_TRUE(absl::SimpleAtoi(f[video ? 2 : 1], &h) && absl::SimpleAtoi(f[video ? 3 : 2], &w));
    if (video) {
      EXPECT_TRUE(absl::SimpleAtoi(f[1], &t));
    }
    const int64_t rows = t * h * w / 4;
    pb::EncodeResponse msg;
    pb::ItemHeader* header = msg.mutable_header();
    header->mutable_grid()->set_t(t);
    header->mutable_grid()->set_h(h);
    header->mutable_grid()->set_w(w);
    header->set_num_tokens(rows);
    header->set_hidden_size(kHidden);
    header->set_dtype(video ? pb::DTYPE_BF16 : pb::DTYPE_F32);
    for (int64_t g = 0; video && g < t; ++g) header->add_timestamps_s(FakeTimestamp(g));
    writer->Write(msg);
    const std::string bytes = FakeEmbeddings(data, rows, video);
    for (size_t off = 0; off < bytes.size(); off += 1000) {  // several chunks per item
      msg.set_chunk(bytes.substr(off, 1000));
      writer->Write(msg);
    }
    msg.mutable_done()->set_encode_s(0.001);
    writer->Write(msg);
    return grpc::Status::OK;
  }

  std::mutex mu;
  std::vector<std::string> items, request_ids, metadata_ids;
  std::vector<int> items_per_call;
  std::atomic<int> cancelled{0};
};

// Ends a Generate call at once with a status (a replica refusing admission).
class RejectReactor final : public grpc::ServerWriteReactor<pb::GenerateResponse> {
 public:
  explicit RejectReactor(grpc::Status status) { Finish(status); }
  void OnDone() override { delete this; }
};

// Wraps the real servicer: records every Generate request, optionally refuses them.
class InterceptingText final : public pb::TextGenerator::CallbackService {
 public:
  explicit InterceptingText(text::TextServicer* inner) : inner_(inner) {}
  grpc::ServerWriteReactor<pb::GenerateResponse>* Generate(grpc::CallbackServerContext* context,
                                                           const pb::GenerateRequest* request) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      requests.push_back(*request);
      auto it = context->client_metadata().find("x-request-id");
      metadata_ids.push_back(it == context->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size()));
    }
    ++calls;
    if (reject_code != grpc::StatusCode::OK) return new RejectReactor(grpc::Status(reject_code, "queue full"));
    return inner_->Generate(context, request);
  }
  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* c, const pb::AbortRequest* q, pb::AbortResponse* r) override {
    return inner_->Abort(c, q, r);
  }
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* c, const pb::GetModelInfoRequest* q,
                                         pb::TextModelInfo* r) override {
    return inner_->GetModelInfo(c, q, r);
  }
  grpc::ServerUnaryReactor* GetLoad(grpc::CallbackServerContext* c, const pb::GetLoadRequest* q, pb::LoadReport* r) override {
    return inner_->GetLoad(c, q, r);
  }

  std::mutex mu;
  std::vector<pb::GenerateRequest> requests;
  std::vector<std::string> metadata_ids;
  std::atomic<int> calls{0};
  std::atomic<grpc::StatusCode> reject_code{grpc::StatusCode::OK};

 private:
  text::TextServicer* inner_;
};

struct TextReplica {
  TextReplica(const text::TextModel* model, const core::GenerationConfig& generation) {
    engine = std::make_unique<text::Engine>(
        model, text::EngineOptions{.max_running = 4, .max_batched_tokens = 512,
                                   .eos_token_ids = generation.eos_token_ids, .num_threads = 1});
    runner = std::make_unique<serving::ServerRunner>(serving::ServerOptions{
        .listen_address = "127.0.0.1:0", .service_name = "qwen35.v1.TextGenerator"});
    metrics = std::make_unique<text::TextMetrics>(runner->metrics());
    servicer = std::make_unique<text::TextServicer>(
        engine.get(), text::RequestDefaults{.generation = generation, .max_tokens = 16, .hidden_size = kHidden},
        metrics.get(), "demo", 4);
    service = std::make_unique<InterceptingText>(servicer.get());
    EXPECT_TRUE(runner->Start({service.get()}).ok());
    runner->SetReady(true);
  }
  ~TextReplica() { runner->server()->Shutdown(std::chrono::system_clock::now()); }
  std::string address() const { return "127.0.0.1:" + std::to_string(runner->bound_port()); }
  double aborted() { return metrics->finished.Add({{"reason", "abort"}}).Value(); }

  std::unique_ptr<text::Engine> engine;
  std::unique_ptr<serving::ServerRunner> runner;
  std::unique_ptr<text::TextMetrics> metrics;
  std::unique_ptr<text::TextServicer> servicer;
  std::unique_ptr<InterceptingText> service;
};

// Text replicas + fake vision + gateway, all on loopback.
class GatewayStack {
 public:
  explicit GatewayStack(int num_text_replicas = 1) {
    auto model = text::TextModel::Load(BundleDir());
    EXPECT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
    generation_ = *core::LoadGenerationConfig(BundleDir());
    std::string targets;
    for (int i = 0; i < num_text_replicas; ++i) {
      text.push_back(std::make_unique<TextReplica>(model_.get(), generation_));
      targets += (i ? "," : "") + text.back()->address();
    }
    vision_runner_ = std::make_unique<serving::ServerRunner>(serving::ServerOptions{
        .listen_address = "127.0.0.1:0", .service_name = "qwen35.v1.VisionEncoder"});
    EXPECT_TRUE(vision_runner_->Start({&vision}).ok());
    vision_runner_->SetReady(true);

    auto bundle = ModelBundle::Load(BundleDir());
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    bundle_ = std::move(*bundle);
    ReplicaPoolOptions pool_options{.health_service_name = "qwen35.v1.TextGenerator"};
    text_pool_ = std::move(*ReplicaPool::Create(targets, pool_options));
    pool_options.health_service_name = "qwen35.v1.VisionEncoder";
    vision_pool_ = std::move(
        *ReplicaPool::Create("127.0.0.1:" + std::to_string(vision_runner_->bound_port()), pool_options));
    vision_client_ = std::make_unique<VisionClient>(
        vision_pool_.get(), VisionClientOptions{.hidden_size = kHidden, .spatial_merge_size = 2});
    PipelineOptions pipeline_options;
    pipeline_options.retry_backoff = std::chrono::milliseconds(1);
    pipeline_ = std::make_unique<ChatPipeline>(bundle_.get(), text_pool_.get(), vision_client_.get(), pipeline_options);
    gateway_runner_ = std::make_unique<serving::ServerRunner>(serving::ServerOptions{
        .listen_address = "127.0.0.1:0", .service_name = "qwen35.v1.Gateway"});
    metrics = std::make_unique<GatewayMetrics>(gateway_runner_->metrics());
    service = std::make_unique<GatewayServicer>(pipeline_.get(), metrics.get(), GatewayServiceOptions{});
    EXPECT_TRUE(gateway_runner_->Start({service.get()}).ok());
    gateway_runner_->SetReady(true);
    stub = pb::Gateway::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(gateway_runner_->bound_port()),
                                                    grpc::InsecureChannelCredentials()));
  }
  ~GatewayStack() {
    gateway_runner_->server()->Shutdown(std::chrono::system_clock::now());
    vision_runner_->server()->Shutdown(std::chrono::system_clock::now());
  }

  struct Result {
    grpc::Status status;
    std::vector<pb::ChatResponse> messages;
    std::string content, reasoning;
    pb::ChatFinished finished;
  };
  Result Chat(const pb::ChatRequest& request, std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    auto reader = stub->Chat(&ctx, request);
    Result r;
    pb::ChatResponse msg;
    while (reader->Read(&msg)) {
      r.messages.push_back(msg);
      if (msg.has_delta()) {
        r.content += msg.delta().content();
        r.reasoning += msg.delta().reasoning();
      }
      if (msg.has_finished()) r.finished = msg.finished();
    }
    r.status = reader->Finish();
    return r;
  }

  // Tokens of `prompt` from an engine driven directly (no gRPC, no gateway).
  std::vector<int64_t> Direct(const std::vector<int64_t>& prompt, const text::SamplingParams& sampling) {
    text::Engine engine(model_.get(), {.max_running = 1, .eos_token_ids = generation_.eos_token_ids, .num_threads = 1});
    text::GenerateRequest req;
    req.request_id = "direct";
    req.prompt = prompt;
    req.sampling = sampling;
    std::vector<int64_t> out;
    std::promise<void> done;
    absl::Status submitted = engine.Submit(req, [&](const text::StreamUpdate& u) {
      for (const auto& t : u.tokens) out.push_back(t.token);
      if (u.finished) done.set_value();
    });
    EXPECT_TRUE(submitted.ok()) << submitted;
    if (submitted.ok()) done.get_future().wait();
    return out;
  }
  std::vector<int64_t> DirectGreedy(const std::vector<int64_t>& prompt, int64_t max_tokens) {
    text::SamplingParams greedy;
    greedy.temperature = 0;
    greedy.max_tokens = max_tokens;
    return Direct(prompt, greedy);
  }

  const ModelBundle& bundle() const { return *bundle_; }
  ReplicaPool& text_pool() { return *text_pool_; }

 private:
  std::unique_ptr<text::TextModel> model_;
  core::GenerationConfig generation_;
  std::unique_ptr<serving::ServerRunner> vision_runner_;
  std::unique_ptr<ModelBundle> bundle_;
  std::unique_ptr<ReplicaPool> text_pool_, vision_pool_;
  std::unique_ptr<VisionClient> vision_client_;
  std::unique_ptr<ChatPipeline> pipeline_;
  std::unique_ptr<serving::ServerRunner> gateway_runner_;

 public:
  std::vector<std::unique_ptr<TextReplica>> text;
  FakeVision vision;
  std::unique_ptr<GatewayMetrics> metrics;
  std::unique_ptr<GatewayServicer> service;
  std::unique_ptr<pb::Gateway::Stub> stub;
};

inline pb::ChatRequest UserChat(const std::string& text, uint32_t max_tokens) {
  pb::ChatRequest req;
  pb::ChatMessage* m = req.add_messages();
  m->set_role("user");
  m->add_content()->set_text(text);
  req.set_enable_thinking(false);
  req.mutable_sampling()->set_temperature(0);
  req.set_max_tokens(max_tokens);
  return req;
}

}  // namespace qwen::gateway::testing
