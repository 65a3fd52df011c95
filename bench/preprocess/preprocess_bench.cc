// preprocess_bench: CPU pre-processing time of vision_service/preprocess on synthetic inputs.
//
//   preprocess_bench [--out-dir DIR] [--runs 7] [--video-runs 3] [--image-config JSON]
//                    [--video-config JSON] [--skip-video]
//
// Generates deterministic inputs (smooth gradients + noise, fixed seed): PNG and JPEG images of
// 448x448, 1024x1024 and 2048x2048, and a 10 s 1280x720 30 fps MJPG/AVI video (cv::VideoWriter).
// They are written to --out-dir (default: a fresh temporary folder) so hf_preprocess_bench.py can
// time Hugging Face's processors on the very same files:
//
//   build/bench/preprocess/preprocess_bench --out-dir /tmp/ppbench > ours.txt
//   python bench/preprocess/hf_preprocess_bench.py --dir /tmp/ppbench --ours ours.txt
//
// Configs: the shipped Qwen3.5 values (MODEL.md §6.1; images shortest_edge 65536, longest_edge
// 16777216; videos shortest_edge 4096, longest_edge 25165824, fps 2) unless a JSON is given.
// For each input: median wall and process-CPU milliseconds over the runs of
//   decode            file bytes -> RGB (images: DecodeImage; video: DecodeVideoFile with the
//                     config's frame sampler, i.e. demux + decode + keep the sampled frames)
//   preprocess        RGB -> pixel_values (smart_resize, antialiased bicubic resize, normalise,
//                     patchify; video: + temporal padding and timestamps)
//   total             PreprocessImageFile / PreprocessVideoFile (file read included)
// plus the grid (t, h, w) and the placeholder token count. Everything runs on one thread (no
// thread pool in the library; OpenCV's FFmpeg decoder may use its own threads for some codecs:
// compare CPU with wall to see).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "vision_service/preprocess/decode_image.h"
#include "vision_service/preprocess/frame_sampling.h"
#include "vision_service/preprocess/image_preprocessor.h"
#include "vision_service/preprocess/preprocess_config.h"
#include "vision_service/preprocess/video_decode.h"
#include "vision_service/preprocess/video_preprocessor.h"

namespace fs = std::filesystem;
using namespace qwen::vision;

namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "preprocess_bench: %s\n", msg.c_str());
  std::exit(1);
}

// Small deterministic generator (independent of the standard library's distributions).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 6364136223846793005ull + 1442695040888963407ull) {}
  uint32_t Next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state_ >> 33);
  }

 private:
  uint64_t state_;
};

// BGR (OpenCV order) smooth gradients + a low-frequency wave + uniform noise in [-12, 12];
// `phase` moves the pattern (video frames).
cv::Mat Synthetic(int height, int width, double phase, Rng& rng) {
  cv::Mat m(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    uint8_t* row = m.ptr<uint8_t>(y);
    const double fy = static_cast<double>(y) / height;
    for (int x = 0; x < width; ++x) {
      const double fx = static_cast<double>(x) / width;
      const double wave = 40.0 * std::sin(6.283185307179586 * (2.0 * fx + 1.5 * fy) + phase);
      const double base[3] = {255.0 * fx, 255.0 * fy, 127.5 + 100.0 * (fx - fy)};
      for (int c = 0; c < 3; ++c) {
        const double noise = static_cast<double>(rng.Next() % 25) - 12.0;
        const double v = base[c] + (c == 1 ? wave : -wave) * 0.5 + noise;
        row[x * 3 + c] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return m;
}

struct Input {
  std::string name;  // file name in out-dir
  bool video = false;
};

std::vector<Input> Generate(const fs::path& dir, bool with_video) {
  std::vector<Input> inputs;
  Rng rng(20260101);
  for (int size : {448, 1024, 2048}) {
    cv::Mat img = Synthetic(size, size, 0.0, rng);
    const std::string base = "image_" + std::to_string(size);
    if (!cv::imwrite((dir / (base + ".png")).string(), img)) Die("cannot write PNG");
    if (!cv::imwrite((dir / (base + ".jpg")).string(), img, {cv::IMWRITE_JPEG_QUALITY, 90}))
      Die("cannot write JPEG");
    inputs.push_back({base + ".png"});
    inputs.push_back({base + ".jpg"});
  }
  if (with_video) {
    const std::string name = "video_720p_10s.avi";
    cv::VideoWriter w((dir / name).string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'),
                      30.0, cv::Size(1280, 720));
    if (!w.isOpened()) Die("cannot open the MJPG/AVI VideoWriter");
    // The pattern's phase moves per frame; fresh noise every frame.
    for (int f = 0; f < 300; ++f) w.write(Synthetic(720, 1280, 0.05 * f, rng));
    w.release();
    inputs.push_back({name, true});
  }
  return inputs;
}

struct Sample {
  double wall_ms, cpu_ms;
};

Sample Time(const std::function<void()>& fn) {
  const auto w0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  fn();
  const double cpu = 1000.0 * static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  const double wall =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count();
  return {wall, cpu};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Stage {
  std::vector<double> wall, cpu;
  void Add(Sample s) {
    wall.push_back(s.wall_ms);
    cpu.push_back(s.cpu_ms);
  }
};

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) Die("cannot read " + p.string());
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

int main(int argc, char** argv) {
  fs::path out_dir;
  std::string image_config_path, video_config_path;
  int runs = 7, video_runs = 3;
  bool with_video = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--out-dir") out_dir = next();
    else if (a == "--runs") runs = std::max(1, std::atoi(next().c_str()));
    else if (a == "--video-runs") video_runs = std::max(1, std::atoi(next().c_str()));
    else if (a == "--image-config") image_config_path = next();
    else if (a == "--video-config") video_config_path = next();
    else if (a == "--skip-video") with_video = false;
    else Die("unknown argument " + a + " (see the header of preprocess_bench.cc)");
  }
  if (out_dir.empty()) {
    out_dir = fs::temp_directory_path() /
              ("preprocess_bench_" + std::to_string(std::chrono::steady_clock::now()
                                                         .time_since_epoch()
                                                         .count()));
  }
  fs::create_directories(out_dir);

  ImageProcessorConfig icfg = Qwen35ImageProcessorConfig();
  VideoProcessorConfig vcfg = Qwen35VideoProcessorConfig();
  if (!image_config_path.empty()) {
    auto c = LoadImageProcessorConfig(image_config_path);
    if (!c.ok()) Die(std::string(c.status().message()));
    icfg = *c;
  }
  if (!video_config_path.empty()) {
    auto c = LoadVideoProcessorConfig(video_config_path);
    if (!c.ok()) Die(std::string(c.status().message()));
    vcfg = *c;
  }

  const auto g0 = std::chrono::steady_clock::now();
  const std::vector<Input> inputs = Generate(out_dir, with_video);
  std::printf("# inputs in %s (generated in %.1f s)\n", out_dir.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count());
  std::printf("# image config: min_pixels %lld max_pixels %lld; video: min_pixels %lld max_pixels "
              "%lld fps %.3g\n",
              static_cast<long long>(icfg.min_pixels), static_cast<long long>(icfg.max_pixels),
              static_cast<long long>(vcfg.image.min_pixels),
              static_cast<long long>(vcfg.image.max_pixels), vcfg.fps.value_or(0.0));
  std::printf("# median over runs; ms; cpu = process CPU time\n");
  std::printf("%-22s %4s %9s %9s %9s %9s %9s %9s %-14s %7s %s\n", "input", "runs", "dec_wall",
              "dec_cpu", "pre_wall", "pre_cpu", "tot_wall", "tot_cpu", "grid_thw", "tokens",
              "resized");

  for (const Input& in : inputs) {
    const fs::path path = out_dir / in.name;
    const int n = in.video ? video_runs : runs;
    Stage dec, pre, tot;
    GridThw grid;
    int64_t tokens = 0;
    ResizedSize resized;
    std::string extra;
    if (!in.video) {
      const std::string bytes = ReadFile(path);
      for (int r = 0; r < n; ++r) {
        absl::StatusOr<DecodedImage> d;
        dec.Add(Time([&] { d = DecodeImage(bytes); }));
        if (!d.ok()) Die(std::string(d.status().message()));
        absl::StatusOr<PreprocessedImage> p;
        pre.Add(Time([&] { p = PreprocessImage(d->image, icfg); }));
        if (!p.ok()) Die(std::string(p.status().message()));
        absl::StatusOr<PreprocessedImage> t;
        tot.Add(Time([&] { t = PreprocessImageFile(path, icfg); }));
        if (!t.ok()) Die(std::string(t.status().message()));
        grid = t->grid;
        tokens = t->num_tokens;
        resized = t->resized;
      }
    } else {
      const FrameSampler sampler = [&vcfg](int64_t total, std::optional<double> fps) {
        return SampleFrameIndices(total, fps, vcfg);
      };
      for (int r = 0; r < n; ++r) {
        absl::StatusOr<SampledVideo> d;
        dec.Add(Time([&] { d = DecodeVideoFile(path, sampler); }));
        if (!d.ok()) Die(std::string(d.status().message()));
        absl::StatusOr<PreprocessedVideo> p;
        pre.Add(Time([&] {
          p = PreprocessSampledFrames(d->frames, d->frame_indices, d->metadata.fps, vcfg);
        }));
        if (!p.ok()) Die(std::string(p.status().message()));
        absl::StatusOr<PreprocessedVideo> t;
        tot.Add(Time([&] { t = PreprocessVideoFile(path, vcfg); }));
        if (!t.ok()) Die(std::string(t.status().message()));
        grid = t->grid;
        tokens = t->tokens_per_group * t->grid.t;
        resized = t->resized;
        extra = " frames=" + std::to_string(t->frame_indices.size()) +
                " src_frames=" + std::to_string(d->metadata.total_frames) +
                " fps=" + std::to_string(t->fps);
      }
    }
    char g[64];
    std::snprintf(g, sizeof g, "(%lld,%lld,%lld)", static_cast<long long>(grid.t),
                  static_cast<long long>(grid.h), static_cast<long long>(grid.w));
    std::printf("%-22s %4d %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %-14s %7lld %lldx%lld%s\n",
                in.name.c_str(), n, Median(dec.wall), Median(dec.cpu), Median(pre.wall),
                Median(pre.cpu), Median(tot.wall), Median(tot.cpu), g,
                static_cast<long long>(tokens), static_cast<long long>(resized.height),
                static_cast<long long>(resized.width), extra.c_str());
    std::fflush(stdout);
  }
  return 0;
}
