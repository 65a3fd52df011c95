#include "vision_service/server/encode_helpers.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"

namespace qwen::vision {

namespace {

class SyncObserver final : public EncodeObserver {
 public:
  explicit SyncObserver(size_t n) : results_(n) {}
  void OnItem(int64_t index, const ItemResult& result) override {
    std::lock_guard<std::mutex> lock(mu_);
    results_[index] = result;
  }
  void OnDone(const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    done_ = true;
    cv_.notify_all();
  }
  absl::StatusOr<std::vector<ItemResult>> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    if (!status_.ok()) return status_;
    return std::move(results_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ItemResult> results_;
  absl::Status status_;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<std::vector<ItemResult>> EncodeSync(EncodeScheduler& scheduler, std::string request_id,
                                                   std::vector<MediaInput> items) {
  SyncObserver observer(items.size());
  absl::StatusOr<uint64_t> id = scheduler.Submit(std::move(request_id), std::move(items), &observer);
  if (!id.ok()) return id.status();
  return observer.Wait();
}

absl::Status CheckProcessorMatchesEncoder(const ProcessorConfigs& configs, const EncoderInfo& info) {
  for (const auto& [name, c] : {std::pair<const char*, const ImageProcessorConfig&>{"preprocessor_config", configs.image},
                                {"video_preprocessor_config", configs.video.image}}) {
    if (c.patch_size != info.patch_size || c.temporal_patch_size != info.temporal_patch_size ||
        c.merge_size != info.spatial_merge_size || c.patch_dim() != info.patch_dim) {
      return absl::FailedPreconditionError(absl::StrCat(
          name, " (patch_size ", c.patch_size, ", temporal_patch_size ", c.temporal_patch_size, ", merge_size ",
          c.merge_size, ") does not match the vision encoder (patch_size ", info.patch_size,
          ", temporal_patch_size ", info.temporal_patch_size, ", spatial_merge_size ", info.spatial_merge_size,
          ", patch row of ", info.patch_dim, " values)"));
    }
  }
  return absl::OkStatus();
}

std::string SyntheticBmp(int width, int height) {
  const int row = (3 * width + 3) / 4 * 4;
  const uint32_t pixels = static_cast<uint32_t>(row * height);
  std::string bmp(54 + pixels, '\0');
  auto put32 = [&](size_t at, uint32_t v) {
    for (int b = 0; b < 4; ++b) bmp[at + b] = static_cast<char>((v >> (8 * b)) & 0xff);
  };
  bmp[0] = 'B';
  bmp[1] = 'M';
  put32(2, 54 + pixels);  // file size
  put32(10, 54);          // pixel data offset
  put32(14, 40);          // BITMAPINFOHEADER
  put32(18, static_cast<uint32_t>(width));
  put32(22, static_cast<uint32_t>(height));
  bmp[26] = 1;   // planes
  bmp[28] = 24;  // bits per pixel; compression BI_RGB = 0
  put32(34, pixels);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      char* p = bmp.data() + 54 + static_cast<size_t>(y) * row + 3 * x;  // B, G, R
      p[0] = static_cast<char>((x * 255) / std::max(1, width - 1));
      p[1] = static_cast<char>((y * 255) / std::max(1, height - 1));
      p[2] = static_cast<char>(((x + y) * 127) / std::max(1, width + height - 2));
    }
  }
  return bmp;
}

}  // namespace qwen::vision
