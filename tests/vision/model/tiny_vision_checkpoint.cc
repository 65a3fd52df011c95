#include "tests/vision/model/tiny_vision_checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/safetensors.h"
#include "nlohmann/json.hpp"

namespace qwen::vision::testing {
namespace {

using Matrix = std::vector<double>;

core::Tensor RandomTensor(const core::Shape& shape, std::mt19937& rng, double scale,
                          double offset) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(core::NumElements(shape)));
  for (float& x : v) x = static_cast<float>(offset + scale * dist(rng));
  return core::Tensor::FromVector(v, shape);
}

std::string ConfigJson(const TinyVisionSpec& s) {
  nlohmann::json j = {
      {"architectures", {"Qwen3_5ForConditionalGeneration"}},
      {"model_type", "qwen3_5"},
      {"text_config",
       {{"model_type", "qwen3_5_text"},
        {"vocab_size", 32},
        {"hidden_size", s.out_hidden},
        {"intermediate_size", 16},
        {"num_hidden_layers", 1},
        {"num_attention_heads", 2},
        {"num_key_value_heads", 1},
        {"head_dim", 8},
        {"linear_num_key_heads", 1},
        {"linear_num_value_heads", 1},
        {"linear_key_head_dim", 8},
        {"linear_value_head_dim", 8},
        {"rope_parameters",
         {{"rope_type", "default"},
          {"rope_theta", 1e6},
          {"partial_rotary_factor", 1.0},
          {"mrope_section", {2, 1, 1}}}}}},
      {"vision_config",
       {{"model_type", "qwen3_5_vision"},
        {"depth", s.depth},
        {"hidden_size", s.hidden},
        {"intermediate_size", s.inter},
        {"num_heads", s.heads},
        {"in_channels", 3},
        {"patch_size", s.patch},
        {"spatial_merge_size", s.merge},
        {"temporal_patch_size", s.temporal},
        {"out_hidden_size", s.out_hidden},
        {"num_position_embeddings", s.pos_side * s.pos_side},
        {"hidden_act", "gelu_pytorch_tanh"}}},
  };
  return j.dump(2);
}

// ---- double-precision building blocks of the reference ----

// y [n, out] = x [n, in] W^T + b, W [out, in] from the checkpoint.
Matrix Dense(const Matrix& x, int64_t n, const core::Tensor& w, const core::Tensor& b) {
  const int64_t out = w.dim(0), in = w.dim(1);
  Matrix y(static_cast<size_t>(n * out));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double s = b.data<float>()[o];
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * w.data<float>()[o * in + i];
      y[r * out + o] = s;
    }
  }
  return y;
}

Matrix LayerNormRows(const Matrix& x, int64_t n, const core::Tensor& w, const core::Tensor& b) {
  const int64_t d = w.dim(0);
  Matrix y(x.size());
  for (int64_t r = 0; r < n; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mean += x[r * d + i];
    mean /= d;
    for (int64_t i = 0; i < d; ++i) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
    var /= d;
    for (int64_t i = 0; i < d; ++i) {
      y[r * d + i] =
          (x[r * d + i] - mean) / std::sqrt(var + 1e-6) * w.data<float>()[i] + b.data<float>()[i];
    }
  }
  return y;
}

}  // namespace

TinyVisionCheckpoint WriteTinyVisionCheckpoint(const std::string& name, const TinyVisionSpec& s,
                                               const std::map<std::string, core::Tensor>& extra,
                                               const std::vector<std::string>& omit) {
  TinyVisionCheckpoint c;
  c.spec = s;
  c.dir = std::filesystem::path(::testing::TempDir()) /
          absl::StrCat("qwen_tiny_vision_", name, "_", getpid());
  std::filesystem::remove_all(c.dir);
  std::filesystem::create_directories(c.dir);
  std::mt19937 rng(s.seed);
  const int64_t h = s.hidden, merged = h * s.merge * s.merge;
  const std::string p = "model.visual.";
  auto linear = [&](const std::string& n, int64_t out, int64_t in) {
    c.weights[p + n + ".weight"] = RandomTensor({out, in}, rng, 1.0 / std::sqrt(double(in)), 0.0);
    c.weights[p + n + ".bias"] = RandomTensor({out}, rng, 0.2, 0.0);
  };
  auto norm = [&](const std::string& n) {
    c.weights[p + n + ".weight"] = RandomTensor({h}, rng, 0.2, 1.0);
    c.weights[p + n + ".bias"] = RandomTensor({h}, rng, 0.2, 0.0);
  };
  c.weights[p + "patch_embed.proj.weight"] = RandomTensor(
      {h, 3, s.temporal, s.patch, s.patch}, rng, 1.0 / std::sqrt(double(c.patch_dim())), 0.0);
  c.weights[p + "patch_embed.proj.bias"] = RandomTensor({h}, rng, 0.2, 0.0);
  c.weights[p + "pos_embed.weight"] = RandomTensor({s.pos_side * s.pos_side, h}, rng, 0.5, 0.0);
  for (int64_t j = 0; j < s.depth; ++j) {
    const std::string b = absl::StrCat("blocks.", j, ".");
    norm(b + "norm1");
    norm(b + "norm2");
    linear(b + "attn.qkv", 3 * h, h);
    linear(b + "attn.proj", h, h);
    linear(b + "mlp.linear_fc1", s.inter, h);
    linear(b + "mlp.linear_fc2", h, s.inter);
  }
  norm("merger.norm");
  linear("merger.linear_fc1", merged, merged);
  linear("merger.linear_fc2", s.out_hidden, merged);

  std::map<std::string, core::Tensor> file = c.weights;
  for (const std::string& n : omit) file.erase(n);
  for (const auto& [n, t] : extra) file[n] = t;
  const absl::Status st = core::WriteSafetensors(c.dir / "model.safetensors", file);
  EXPECT_TRUE(st.ok()) << st;
  std::ofstream(c.dir / "config.json") << ConfigJson(s);
  return c;
}

core::Tensor RandomPixels(int64_t rows, int64_t patch_dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(rows * patch_dim));
  for (float& x : v) x = dist(rng);
  return core::Tensor::FromVector(v, {rows, patch_dim});
}

std::vector<double> ReferenceEncoder(const TinyVisionCheckpoint& ckpt, const core::Tensor& pixels,
                                     const std::vector<GridThw>& grids) {
  const TinyVisionSpec& s = ckpt.spec;
  const int64_t h = s.hidden, m = s.merge, pd = ckpt.patch_dim(), side = s.pos_side;
  const int64_t heads = s.heads, hd = h / heads;
  auto W = [&](const std::string& n) -> const core::Tensor& {
    return ckpt.weights.at("model.visual." + n);
  };
  const core::Tensor pe_w = W("patch_embed.proj.weight").Reshaped({h, pd});
  std::vector<double> out;
  int64_t row0 = 0;
  for (const GridThw& g : grids) {
    for (int64_t f = 0; f < g.t; ++f) {
      // Unpack the frame into raster order: raster index r*w + c.
      const int64_t n = g.h * g.w;
      Matrix x(static_cast<size_t>(n * pd));
      for (int64_t bh = 0, k = 0; bh < g.h / m; ++bh) {
        for (int64_t bw = 0; bw < g.w / m; ++bw) {
          for (int64_t mh = 0; mh < m; ++mh) {
            for (int64_t mw = 0; mw < m; ++mw, ++k) {
              const int64_t r = bh * m + mh, c = bw * m + mw;
              for (int64_t i = 0; i < pd; ++i) {
                x[(r * g.w + c) * pd + i] = pixels.data<float>()[(row0 + f * n + k) * pd + i];
              }
            }
          }
        }
      }
      Matrix hs = Dense(x, n, pe_w, W("patch_embed.proj.bias"));
      // Position table resampled like F.interpolate(bilinear, align_corners=True).
      const float* table = W("pos_embed.weight").data<float>();
      for (int64_t r = 0; r < g.h; ++r) {
        const double sy = g.h == 1 ? 0.0 : double(r) * (side - 1) / (g.h - 1);
        const int64_t y0 = int64_t(std::floor(sy)), y1 = std::min(y0 + 1, side - 1);
        for (int64_t c = 0; c < g.w; ++c) {
          const double sx = g.w == 1 ? 0.0 : double(c) * (side - 1) / (g.w - 1);
          const int64_t x0 = int64_t(std::floor(sx)), x1 = std::min(x0 + 1, side - 1);
          const double dy = sy - y0, dx = sx - x0;
          for (int64_t i = 0; i < h; ++i) {
            auto e = [&](int64_t yy, int64_t xx) {
              return double(table[(yy * side + xx) * h + i]);
            };
            hs[(r * g.w + c) * h + i] += (1 - dy) * (1 - dx) * e(y0, x0) +
                                         (1 - dy) * dx * e(y0, x1) + dy * (1 - dx) * e(y1, x0) +
                                         dy * dx * e(y1, x1);
          }
        }
      }
      for (int64_t j = 0; j < s.depth; ++j) {
        const std::string b = absl::StrCat("blocks.", j, ".");
        Matrix qkv = Dense(LayerNormRows(hs, n, W(b + "norm1.weight"), W(b + "norm1.bias")), n,
                           W(b + "attn.qkv.weight"), W(b + "attn.qkv.bias"));
        // rotate_half RoPE on q and k with angles [r f_i | c f_i] repeated twice.
        const int64_t nf = hd / 4;
        for (int64_t t = 0; t < n; ++t) {
          const int64_t r = t / g.w, c = t % g.w;
          std::vector<double> ang(static_cast<size_t>(hd));
          for (int64_t i = 0; i < nf; ++i) {
            const double f = std::pow(10000.0, -2.0 * i / (hd / 2));
            ang[i] = ang[i + hd / 2] = r * f;
            ang[nf + i] = ang[nf + i + hd / 2] = c * f;
          }
          for (int64_t which = 0; which < 2; ++which) {
            for (int64_t hh = 0; hh < heads; ++hh) {
              double* v = &qkv[t * 3 * h + which * h + hh * hd];
              std::vector<double> src(v, v + hd);
              for (int64_t d = 0; d < hd; ++d) {
                const double rot = d < hd / 2 ? -src[d + hd / 2] : src[d - hd / 2];
                v[d] = src[d] * std::cos(ang[d]) + rot * std::sin(ang[d]);
              }
            }
          }
        }
        Matrix attn(static_cast<size_t>(n * h), 0.0);
        for (int64_t hh = 0; hh < heads; ++hh) {
          for (int64_t t = 0; t < n; ++t) {
            std::vector<double> sc(static_cast<size_t>(n));
            for (int64_t u = 0; u < n; ++u) {
              double d = 0;
              for (int64_t i = 0; i < hd; ++i) {
                d += qkv[t * 3 * h + hh * hd + i] * qkv[u * 3 * h + h + hh * hd + i];
              }
              sc[u] = d / std::sqrt(double(hd));
            }
            const double mx = *std::max_element(sc.begin(), sc.end());
            double sum = 0;
            for (double& v : sc) sum += v = std::exp(v - mx);
            for (int64_t u = 0; u < n; ++u) {
              for (int64_t i = 0; i < hd; ++i) {
                attn[t * h + hh * hd + i] += sc[u] / sum * qkv[u * 3 * h + 2 * h + hh * hd + i];
              }
            }
          }
        }
        Matrix proj = Dense(attn, n, W(b + "attn.proj.weight"), W(b + "attn.proj.bias"));
        for (size_t i = 0; i < hs.size(); ++i) hs[i] += proj[i];
        Matrix mid = Dense(LayerNormRows(hs, n, W(b + "norm2.weight"), W(b + "norm2.bias")), n,
                           W(b + "mlp.linear_fc1.weight"), W(b + "mlp.linear_fc1.bias"));
        for (double& v : mid) {
          v = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        }
        Matrix mlp = Dense(mid, n, W(b + "mlp.linear_fc2.weight"), W(b + "mlp.linear_fc2.bias"));
        for (size_t i = 0; i < hs.size(); ++i) hs[i] += mlp[i];
      }
      // Merger: norm per patch, then gather each m x m block (row-major inside the block).
      Matrix normed = LayerNormRows(hs, n, W("merger.norm.weight"), W("merger.norm.bias"));
      const int64_t blocks = n / (m * m);
      Matrix cat(static_cast<size_t>(blocks * m * m * h));
      for (int64_t bh = 0, k = 0; bh < g.h / m; ++bh) {
        for (int64_t bw = 0; bw < g.w / m; ++bw, ++k) {
          for (int64_t mh = 0; mh < m; ++mh) {
            for (int64_t mw = 0; mw < m; ++mw) {
              const int64_t r = bh * m + mh, c = bw * m + mw;
              for (int64_t i = 0; i < h; ++i) {
                cat[(k * m * m + mh * m + mw) * h + i] = normed[(r * g.w + c) * h + i];
              }
            }
          }
        }
      }
      Matrix mid = Dense(cat, blocks, W("merger.linear_fc1.weight"), W("merger.linear_fc1.bias"));
      for (double& v : mid) v = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      Matrix y = Dense(mid, blocks, W("merger.linear_fc2.weight"), W("merger.linear_fc2.bias"));
      out.insert(out.end(), y.begin(), y.end());
    }
    row0 += g.num_patches();
  }
  return out;
}

}  // namespace qwen::vision::testing
