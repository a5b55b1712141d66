// Device basics (see device.hpp): bf16 conversion, device discovery, streams, pool allocation.
#include "executor/cuda/device.hpp"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>
#include <limits>

#include "executor/cuda/check.hpp"

namespace shardplan::executor::cuda {

bf16 to_bf16(float x) {
  uint32_t u = 0;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0)
    return bf16{static_cast<uint16_t>((u >> 16) | 0x40)};  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);                         // round to nearest even
  return bf16{static_cast<uint16_t>(u >> 16)};
}

float to_float(bf16 x) {
  const uint32_t u = static_cast<uint32_t>(x.bits) << 16;
  float f = 0;
  std::memcpy(&f, &u, 4);
  return f;
}

std::vector<bf16> to_bf16(const std::vector<float>& x) {
  std::vector<bf16> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = to_bf16(x[i]);
  return out;
}

std::vector<float> to_float(const std::vector<bf16>& x) {
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = to_float(x[i]);
  return out;
}

std::string no_gpu_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear it, so that later calls do not report it again
    return std::string("no usable GPU: ") + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) +
           ")";
  }
  if (n == 0) return "no GPU found";
  return "";
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

void use_device(int device) {
  SHARDPLAN_CUDA_CHECK(cudaSetDevice(device));
  cudaMemPool_t pool = nullptr;
  SHARDPLAN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
  uint64_t keep = std::numeric_limits<uint64_t>::max();
  SHARDPLAN_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
}

Stream create_stream() {
  cudaStream_t s = nullptr;
  SHARDPLAN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

void destroy_stream(Stream s) noexcept {
  if (s) cudaStreamDestroy(s);
}

void synchronize(Stream s) {
  SHARDPLAN_CUDA_CHECK(cudaStreamSynchronize(s));
}

namespace {
cudaMemPool_t pool_of(int device) {
  cudaMemPool_t pool = nullptr;
  SHARDPLAN_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
  return pool;
}
}  // namespace

int64_t pool_peak_bytes(int device) {
  uint64_t v = 0;
  SHARDPLAN_CUDA_CHECK(cudaMemPoolGetAttribute(pool_of(device), cudaMemPoolAttrUsedMemHigh, &v));
  return static_cast<int64_t>(v);
}

int64_t pool_reserved_peak_bytes(int device) {
  uint64_t v = 0;
  SHARDPLAN_CUDA_CHECK(
      cudaMemPoolGetAttribute(pool_of(device), cudaMemPoolAttrReservedMemHigh, &v));
  return static_cast<int64_t>(v);
}

void reset_pool_peak(int device) {
  SHARDPLAN_CUDA_CHECK(cudaDeviceSynchronize());
  SHARDPLAN_CUDA_CHECK(cudaMemPoolTrimTo(pool_of(device), 0));
  uint64_t zero = 0;  // the only value the driver accepts: resets a mark to the current value
  SHARDPLAN_CUDA_CHECK(cudaMemPoolSetAttribute(pool_of(device), cudaMemPoolAttrUsedMemHigh, &zero));
  SHARDPLAN_CUDA_CHECK(
      cudaMemPoolSetAttribute(pool_of(device), cudaMemPoolAttrReservedMemHigh, &zero));
}

int64_t pool_used_bytes(int device) {
  uint64_t v = 0;
  SHARDPLAN_CUDA_CHECK(cudaMemPoolGetAttribute(pool_of(device), cudaMemPoolAttrUsedMemCurrent, &v));
  return static_cast<int64_t>(v);
}

void* device_alloc(int64_t bytes, Stream s) {
  if (bytes <= 0) return nullptr;
  void* p = nullptr;
  SHARDPLAN_CUDA_CHECK(cudaMallocAsync(&p, static_cast<size_t>(bytes), s));
  return p;
}

void device_free(void* p, Stream s) noexcept {
  if (!p) return;
  const cudaError_t e = cudaFreeAsync(p, s);
  if (e != cudaSuccess)  // destructors cannot throw; a failed free is reported, not hidden
    std::fprintf(stderr, "%s\n",
                 cuda_error_message(e, "cudaFreeAsync(p, s)", __FILE__, __LINE__).c_str());
}

void copy_to_device(void* dst, const void* src, int64_t bytes, Stream s) {
  if (bytes > 0)
    SHARDPLAN_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyHostToDevice, s));
}

void copy_to_host(void* dst, const void* src, int64_t bytes, Stream s) {
  if (bytes > 0)
    SHARDPLAN_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDeviceToHost, s));
  SHARDPLAN_CUDA_CHECK(cudaStreamSynchronize(s));
}

void copy_device(void* dst, const void* src, int64_t bytes, Stream s) {
  if (bytes > 0 && dst != src)
    SHARDPLAN_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice, s));
}

void zero_device(void* p, int64_t bytes, Stream s) {
  if (bytes > 0) SHARDPLAN_CUDA_CHECK(cudaMemsetAsync(p, 0, static_cast<size_t>(bytes), s));
}

}  // namespace shardplan::executor::cuda
