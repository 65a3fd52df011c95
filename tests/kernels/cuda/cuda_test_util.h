// Helpers of the CUDA parity tests: a fixture that skips without a GPU, device buffers, and
// checked copies. Plain C++ (the tests are compiled by the host compiler and link
// qwen_kernels_cuda).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace qwen::kernels::testing {

// Fixture of every CUDA test: skips with a clear message when no GPU is present (dev and CI
// machines have none), otherwise makes sure the test starts and ends with no pending CUDA error.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
      cudaGetLastError();  // clear the error of the failed query
      GTEST_SKIP() << "no CUDA device (" << cudaGetErrorString(err)
                   << "): CUDA kernel tests run only on the GPU machine";
    }
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess) << "a previous test left a CUDA error";
  }
  void TearDown() override {
    if (IsSkipped()) return;
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  }
};

// Parametrised variant.
template <class P>
class CudaTestWithParam : public CudaTest, public ::testing::WithParamInterface<P> {};

// Owning device allocation of n elements of T.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (n > 0 && cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T)) != cudaSuccess) {
      p_ = nullptr;
      ADD_FAILURE() << "cudaMalloc of " << n * sizeof(T) << " bytes failed";
    }
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { Upload(host); }
  ~DeviceBuffer() {
    if (p_ != nullptr) cudaFree(p_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }

  T* get() const { return p_; }
  size_t size() const { return n_; }

  void Upload(const std::vector<T>& host) {
    ASSERT_EQ(host.size(), n_);
    if (n_ == 0) return;
    ASSERT_EQ(cudaMemcpy(p_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  std::vector<T> Download() const {
    std::vector<T> host(n_);
    if (n_ > 0) {
      EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      EXPECT_EQ(cudaMemcpy(host.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    }
    return host;
  }
  // Fills every byte with `byte` (0xFF on f32 is a NaN: catches unwritten outputs).
  void Poison(unsigned char byte = 0xFF) {
    if (n_ > 0) {
      ASSERT_EQ(cudaMemset(p_, byte, n_ * sizeof(T)), cudaSuccess);
    }
  }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

using Bf16 = __nv_bfloat16;

}  // namespace qwen::kernels::testing
