// The CUDA calibration (calibrate_cuda.hpp): each measurement is timed with CUDA events over
// repetitions lasting at least seconds_per_point after a warm-up; inputs hold small random
// values (all-zero GEMM inputs draw less power and run faster than real ones).
#include "executor/cuda/calibrate_cuda.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/hardware_json.hpp"
#include "executor/calibrate.hpp"
#include "executor/cuda/check.hpp"
#include "executor/cuda/comm_nccl.hpp"
#include "executor/cuda/gemm.hpp"
#include "executor/cuda/kernels.hpp"

namespace shardplan::executor::cuda {

namespace {

std::string fmt_num(double v, int digits = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

// Seconds per call of `fn` on `s`: batches doubling until one lasts seconds_per_point.
double time_per_call(Stream s, double seconds, const std::function<void()>& fn) {
  fn();  // warm-up: cuBLAS heuristics, lazy module loading
  synchronize(s);
  cudaEvent_t a = nullptr, b = nullptr;
  SHARDPLAN_CUDA_CHECK(cudaEventCreate(&a));
  SHARDPLAN_CUDA_CHECK(cudaEventCreate(&b));
  double per = 0;
  for (int reps = 1;; reps *= 2) {
    SHARDPLAN_CUDA_CHECK(cudaEventRecord(a, s));
    for (int i = 0; i < reps; ++i) fn();
    SHARDPLAN_CUDA_CHECK(cudaEventRecord(b, s));
    SHARDPLAN_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    SHARDPLAN_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    per = ms * 1e-3 / reps;
    if (ms * 1e-3 >= seconds || reps >= (1 << 16)) break;
  }
  SHARDPLAN_CUDA_CHECK(cudaEventDestroy(a));
  SHARDPLAN_CUDA_CHECK(cudaEventDestroy(b));
  return per;
}

void fill_random(void* p, int64_t n, bool four_bytes, Stream s) {
  MemoryTracker mem;  // before tmp: tmp's destructor releases its bytes to it
  DevBuf<float> tmp;
  float* f = static_cast<float*>(p);
  if (!four_bytes) {
    tmp = DevBuf<float>(mem, MemCategory::temporaries, n, s, false);
    f = tmp.data();
  }
  InitSlot slot;
  slot.mode = 0;
  slot.base = 12345;
  slot.std = 0.5;
  slot.cols = n;
  slot.local_cols = n;
  init_slot(slot, 0, n, f, s);
  // bf16 bits; fp16 reads the same bits as (finite, order-one) half values.
  if (!four_bytes) f32_to_bf16(f, static_cast<bf16*>(p), n, s);
  synchronize(s);
}

struct MathType {
  const char* name;
  cudaDataType_t ab, c;
  cublasComputeType_t compute;
};
const MathType kMath[] = {
    {"bf16", CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F},
    {"fp16", CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F},
    {"tf32", CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32},
    {"fp32", CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F},
};

struct Shape {
  int64_t m, n, k;
};
// Squares, and the GEMMs of a 2048-wide layer on 16k tokens (QKV, MLP up, MLP down, logits).
const Shape kShapes[] = {{1024, 1024, 1024},  {2048, 2048, 2048},  {4096, 4096, 4096},
                         {8192, 8192, 8192},  {16384, 6144, 2048}, {16384, 8192, 2048},
                         {16384, 2048, 8192}, {16384, 32768, 2048}};

std::vector<CudaGemmPoint> gemm_grid(Blas& blas, double seconds) {
  int64_t most_a = 0, most_b = 0, most_c = 0;
  for (const Shape& s : kShapes)
    most_a = std::max(most_a, s.m * s.k), most_b = std::max(most_b, s.k * s.n),
    most_c = std::max(most_c, s.m * s.n);
  const Stream st = blas.stream();
  void* a = device_alloc(most_a * 4, st);
  void* b = device_alloc(most_b * 4, st);
  void* c = device_alloc(most_c * 4, st);
  std::vector<CudaGemmPoint> out;
  for (const MathType& mt : kMath) {
    const bool four = mt.ab == CUDA_R_32F;
    fill_random(a, most_a, four, st);
    fill_random(b, most_b, four, st);
    for (const Shape& s : kShapes) {
      const float one = 1, zero = 0;
      auto h = static_cast<cublasHandle_t>(blas.handle());
      // Row-major C = A·B as column-major Cᵀ = Bᵀ·Aᵀ (gemm.cpp).
      const double t = time_per_call(st, seconds, [&] {
        SHARDPLAN_CUBLAS_CHECK(cublasGemmEx(
            h, CUBLAS_OP_N, CUBLAS_OP_N, int(s.n), int(s.m), int(s.k), &one, b, mt.ab, int(s.n), a,
            mt.ab, int(s.k), &zero, c, mt.c, int(s.n), mt.compute, CUBLAS_GEMM_DEFAULT));
      });
      out.push_back(
          {s.m, s.n, s.k, mt.name, 2.0 * double(s.m) * double(s.n) * double(s.k) / t / 1e12});
    }
  }
  device_free(a, st);
  device_free(b, st);
  device_free(c, st);
  synchronize(st);
  return out;
}

}  // namespace

std::string preset_for_device(const std::string& name, double memory_bytes) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  const double gib = memory_bytes / double(int64_t{1} << 30);
  if (has("GB200")) return "gb200";
  if (has("B200")) return "b200";
  if (has("H200")) return "h200";
  if (has("H100")) return "h100-sxm";
  if (has("A100")) return gib > 60 ? "a100-80g" : "a100-40g";
  if (has("V100")) return gib > 24 ? "v100-32g" : "v100-16g";
  if (has("MI300X")) return "mi300x";
  return "";
}

namespace {
std::string cluster_for_preset(const std::string& gpu) {
  if (gpu == "h200") return "dgx-h200";
  if (gpu == "h100-sxm") return "dgx-h100";
  if (gpu == "a100-80g") return "dgx-a100";
  if (gpu == "a100-40g") return "dgx-a100-40g";
  if (gpu == "b200") return "dgx-b200";
  if (gpu == "gb200") return "gb200-nvl72";
  if (gpu.rfind("v100", 0) == 0) return "dgx-v100";
  return "";
}
}  // namespace

CudaCalibration calibrate_cuda(const CudaCalibrationOptions& o) {
  const std::string why = no_gpu_reason();
  if (!why.empty()) throw std::runtime_error("calibrate --backend cuda: " + why);
  CudaCalibration c;
  c.devices = device_count();
  use_device(0);
  cudaDeviceProp prop{};
  SHARDPLAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  c.device = prop.name;
  c.sms = prop.multiProcessorCount;
  size_t free_b = 0, total_b = 0;
  // The stream outlives the cuBLAS handle bound to it (Blas's destructor synchronises it), and is
  // destroyed on every way out.
  struct OwnedStream {
    Stream s = create_stream();
    ~OwnedStream() { destroy_stream(s); }
  } stream;
  const Stream s = stream.s;
  Blas blas(s);
  SHARDPLAN_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  c.memory_total_bytes = double(total_b);
  c.reserved_bytes = double(total_b - free_b);
  c.base_preset =
      o.gpu_preset.empty() ? preset_for_device(c.device, c.memory_total_bytes) : o.gpu_preset;
  if (c.base_preset.empty())
    throw std::runtime_error("calibrate --backend cuda: no shipped GPU preset matches \"" +
                             c.device +
                             "\"; name the preset whose datasheet figures apply (gpu_preset)");
  int driver = 0, runtime = 0, blas_version = 0;
  SHARDPLAN_CUDA_CHECK(cudaDriverGetVersion(&driver));
  SHARDPLAN_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  SHARDPLAN_CUBLAS_CHECK(
      cublasGetVersion(static_cast<cublasHandle_t>(blas.handle()), &blas_version));
  c.versions = "driver " + std::to_string(driver / 1000) + "." +
               std::to_string(driver % 1000 / 10) + ", CUDA runtime " +
               std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10) +
               ", cuBLAS " + std::to_string(blas_version) + ", NCCL " + nccl_version();

  c.gemm = gemm_grid(blas, o.seconds_per_point);

  {  // the executor's fused attention: batch 4, 16 heads of 128, 4096 tokens, causal
    const AttnShape sh{4, kCalibrationAttentionKeys, 16, 16, 128};
    const int64_t nq = sh.batch * sh.seq * sh.q_heads * sh.head_dim;
    MemoryTracker mem;
    auto buf = [&](int64_t n) { return DevBuf<bf16>(mem, MemCategory::temporaries, n, s, false); };
    DevBuf<bf16> q = buf(nq), k = buf(nq), v = buf(nq), out = buf(nq), dout = buf(nq), dq = buf(nq),
                 dk = buf(nq), dv = buf(nq);
    DevBuf<float> lse(mem, MemCategory::temporaries, sh.batch * sh.q_heads * sh.seq, s);
    for (DevBuf<bf16>* x : {&q, &k, &v, &dout}) fill_random(x->data(), nq, false, s);
    const double flops = 4.0 * sh.batch * double(sh.seq) * sh.seq * sh.q_heads * sh.head_dim / 2;
    const double tf = time_per_call(s, o.seconds_per_point, [&] {
      flash_attention_forward(sh, q.data(), k.data(), v.data(), out.data(), lse.data(), s);
    });
    const double tb = time_per_call(s, o.seconds_per_point, [&] {
      flash_attention_backward(sh, q.data(), k.data(), v.data(), out.data(), dout.data(),
                               lse.data(), dq.data(), dk.data(), dv.data(), s);
    });
    c.attention_fwd_tflops = flops / tf / 1e12;
    c.attention_bwd_tflops = 2.5 * flops / tb / 1e12;
    c.attention_shape = "batch 4, 16 heads x 128, seq 4096, causal";
  }
  {  // device-to-device copy of 1 GiB, and back-to-back launches of a one-element kernel
    const int64_t bytes = int64_t{1} << 30;
    void* a = device_alloc(bytes, s);
    void* b = device_alloc(bytes, s);
    zero_device(a, bytes, s);
    const double t = time_per_call(s, o.seconds_per_point, [&] { copy_device(b, a, bytes, s); });
    c.copy_GBps = 2.0 * double(bytes) / t / 1e9;
    const double launch = time_per_call(s, o.seconds_per_point, [&] {
      for (int i = 0; i < 100; ++i)
        f32_to_bf16(static_cast<float*>(a), static_cast<bf16*>(b), 1, s);
    });
    c.launch_us = launch / 100 * 1e6;
    device_free(a, s);
    device_free(b, s);
    synchronize(s);
  }
  {  // the executor's memory-bound kernels: what the cost model prices at memory_bandwidth_fraction
    const int64_t rows = 8192, h = 4096, n = rows * h;
    MemoryTracker mem;
    DevBuf<bf16> x(mem, MemCategory::temporaries, n, s, false), y(mem, MemCategory::temporaries, n, s, false),
        z(mem, MemCategory::temporaries, n, s, false),
        gamma(mem, MemCategory::temporaries, h, s, false), beta(mem, MemCategory::temporaries, h, s, false);
    DevBuf<float> dy(mem, MemCategory::temporaries, n, s), dx(mem, MemCategory::temporaries, n, s),
        mean(mem, MemCategory::temporaries, rows, s), rstd(mem, MemCategory::temporaries, rows, s),
        dgamma(mem, MemCategory::temporaries, h, s), dbeta(mem, MemCategory::temporaries, h, s);
    fill_random(x.data(), n, false, s);
    fill_random(gamma.data(), h, false, s);
    fill_random(beta.data(), h, false, s);
    fill_random(dy.data(), n, true, s);
    // Bytes per element each kernel moves: layernorm forward reads x and writes y (2 + 2);
    // backward reads dy (4) and x (2) and adds into dx (4 + 4); GELU forward 2 + 2; backward reads
    // dg and u and writes du (2 + 2 + 2).
    struct Kernel {
      const char* name;
      double bytes_per_element;
      std::function<void()> run;
    };
    const Kernel kernels[] = {
        {"layernorm fwd", 4, [&] { layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), rows, h, s); }},
        {"layernorm bwd", 14, [&] { layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(), dgamma.data(), dbeta.data(), rows, h, s); }},
        {"gelu fwd", 4, [&] { gelu_forward(x.data(), y.data(), n, s); }},
        {"gelu bwd", 6, [&] { gelu_backward(y.data(), x.data(), z.data(), n, s); }}};
    double bytes = 0, time = 0;
    for (const Kernel& k : kernels) {
      const double t = time_per_call(s, o.seconds_per_point, k.run);
      const double b = k.bytes_per_element * double(n);
      bytes += b, time += t;
      c.pointwise_detail += (c.pointwise_detail.empty() ? "" : "; ") + std::string(k.name) + " " + fmt_num(b / t / 1e9, 0);
    }
    c.pointwise_GBps = bytes / time / 1e9;
    synchronize(s);
  }
  if (o.collectives && c.devices >= 2 && nccl_built()) {
    std::vector<int64_t> sizes;
    for (int64_t b = int64_t{1} << 13; b <= int64_t{1} << 30; b <<= 2) sizes.push_back(b);
    const std::vector<double> t = nccl_all_reduce_times(c.devices, sizes, o.seconds_per_point);
    const double n = c.devices;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const double bus = 2 * (n - 1) / n * double(sizes[i]) / t[i] / 1e9;
      c.all_reduce.push_back({sizes[i], t[i], bus});
      c.bus_GBps = std::max(c.bus_GBps, bus);
    }
    c.latency_us = t.front() / (2 * (n - 1)) * 1e6;  // ring: 2(n-1) steps of alpha dominate
  }
  return c;
}

ClusterSpec cuda_cluster_profile(const CudaCalibration& m) {
  const GpuSpec base = load_gpu(m.base_preset);
  GpuSpec g = base;
  const std::string meas =
      "shardplan calibrate --backend cuda on " + m.device + " (" + m.versions + ")";
  g.name = m.base_preset + "-calibrated";
  g.description = m.device + ", calibrated (" + std::to_string(m.devices) + " GPU(s) present)";
  g.memory_bytes = m.memory_total_bytes;
  g.sms = m.sms;
  // Transformer Engine's SM share for collectives, scaled with the SMs present (a MIG slice has
  // fewer than the preset's part); the loader needs at least one SM left for the GEMM.
  g.comm_sms = std::clamp<int64_t>(base.comm_sms * m.sms / std::max<int64_t>(1, base.sms), 0, std::max<int64_t>(0, m.sms - 1));
  // Rates are fractions of the bf16 dense peak (fp16's on parts without bf16 tensor cores).
  const double bf16_peak = base.peak_tflops[static_cast<int>(DType::bf16)];
  const double peak = bf16_peak > 0 ? bf16_peak : base.peak_tflops[static_cast<int>(DType::fp16)];
  double best = 0;
  std::string best_shape, grid;
  for (const CudaGemmPoint& p : m.gemm) {
    grid += (grid.empty() ? "" : "; ") + p.math + " " + std::to_string(p.m) + "x" +
            std::to_string(p.n) + "x" + std::to_string(p.k) + " " + fmt_num(p.tflops, 1);
    if (p.math == "bf16" && std::min({p.m, p.n, p.k}) >= 2048 && p.tflops > best)
      best = p.tflops,
      best_shape = std::to_string(p.m) + "x" + std::to_string(p.n) + "x" + std::to_string(p.k);
  }
  g.gemm_peak_fraction = std::clamp(best / peak, 0.01, 1.0);
  // The cost model prices fused attention at peak x fraction x keys / (keys + attention_ramp_keys)
  // (costmodel/op_pricer.cpp): the rate measured at 4096 keys is divided by that ramp, or the
  // profile would price the very shape it measured 4096 / (4096 + ramp) slower.
  const double ramp = double(kCalibrationAttentionKeys) / (double(kCalibrationAttentionKeys) + base.attention_ramp_keys);
  g.attention_fwd_fraction = std::clamp(m.attention_fwd_tflops / (peak * ramp), 0.001, 1.0);
  g.attention_bwd_fraction = std::clamp(m.attention_bwd_tflops / (peak * ramp), 0.001, 1.0);
  // The executor's own memory-bound kernels, where measured (a copy is the upper bound).
  const double pointwise = m.pointwise_GBps > 0 ? m.pointwise_GBps : m.copy_GBps;
  g.memory_bandwidth_fraction = std::clamp(pointwise / base.memory_bandwidth_GBps, 0.01, 1.0);
  g.kernel_overhead_us = m.launch_us;
  g.runtime_reserved_bytes = std::min(m.reserved_bytes, 0.5 * m.memory_total_bytes);
  const std::string from_preset = " (datasheet figure of the shipped preset " + m.base_preset + ")";
  g.source["memory_bytes"] = meas + ": cudaMemGetInfo total";
  g.source["sms"] = meas + ": cudaDeviceProp::multiProcessorCount";
  g.source["memory_bandwidth_GBps"] = base.source.count("memory_bandwidth_GBps")
                                          ? base.source.at("memory_bandwidth_GBps") + from_preset
                                          : "preset " + m.base_preset;
  g.source["gemm_peak_fraction"] =
      meas +
      ": best bf16 cublasGemmEx rate (float accumulation) over the grid's shapes of at least "
      "2048 per side, " +
      best_shape + " at " + fmt_num(best, 1) + " TFLOP/s over the bf16 peak " + fmt_num(peak, 1) +
      "; the cost model multiplies this by its own shape efficiency (0.91-0.99 at "
      "8192^3), so it predicts such GEMMs a few percent slower than measured. Grid, TFLOP/s: " +
      grid;
  g.source["attention_fwd_fraction"] =
      meas + ": the executor's fused attention kernel forward, " + m.attention_shape + ", " +
      fmt_num(m.attention_fwd_tflops, 1) +
      " TFLOP/s (FlashAttention FLOP convention, causal halved) over the bf16 peak times the ramp at " +
      std::to_string(kCalibrationAttentionKeys) + " keys, " + fmt_num(ramp, 3) + " (attention_ramp_keys " +
      fmt_num(base.attention_ramp_keys, 0) + ")";
  g.source["attention_bwd_fraction"] =
      meas + ": the same kernel's backward (dK/dV and dQ passes), " +
      fmt_num(m.attention_bwd_tflops, 1) + " TFLOP/s counting 2.5x the forward FLOPs, over the same peak and ramp";
  g.source["memory_bandwidth_fraction"] =
      meas + ": the executor's layernorm and GELU kernels, forward and backward, on 8192 x 4096 "
      "elements, bytes moved over their time together, " + fmt_num(m.pointwise_GBps, 0) +
      " GB/s over the datasheet bandwidth (GB/s each: " + m.pointwise_detail +
      "; a 1 GiB device-to-device copy: " + fmt_num(m.copy_GBps, 0) + ")";
  g.source["kernel_overhead_us"] = meas + ": back-to-back launches of a one-element kernel";
  g.source["runtime_reserved_bytes"] = meas +
                                       ": device memory in use (cudaMemGetInfo) after the CUDA "
                                       "context, a stream and a cuBLAS handle with its "
                                       "32 MiB workspace exist and before any tensor (includes "
                                       "other processes on the GPU; NCCL buffers not included)";

  ClusterSpec cl;
  const std::string cluster = cluster_for_preset(m.base_preset);
  if (!cluster.empty()) {
    cl = load_cluster(cluster);
    cl.name = cluster + "-calibrated";
  } else {
    cl.name = m.base_preset + "-node-calibrated";
    cl.gpus_per_node = std::max(1, m.devices);
    NetworkLevel l;
    l.name = "node";
    l.bandwidth_GBps = 100;
    l.source = "estimate: no cluster preset for " + m.base_preset;
    cl.network = {l};
  }
  cl.gpu = g;
  NetworkLevel& inner = cl.network.front();
  if (!m.all_reduce.empty()) {
    inner.efficiency = std::clamp(m.bus_GBps / inner.bandwidth_GBps, 0.01, 1.0);
    inner.latency_us = m.latency_us;  // ring reading; the CLI refits it to the estimator's form
    std::string pts;
    for (const auto& p : m.all_reduce)
      pts += (pts.empty() ? "" : "; ") + std::to_string(p.bytes) + " B " + fmt_num(p.bus_GBps, 1) +
             " GB/s";
    inner.source =
        meas + ": NCCL bf16 all-reduce over " + std::to_string(m.devices) +
        " GPUs (one process), median time per size, bus bandwidth 2(n-1)/n S/t; efficiency = best "
        "bus bandwidth over the nominal " +
        fmt_num(inner.bandwidth_GBps, 0) +
        " GB/s, latency = smallest size's time / 2(n-1). Points: " + pts;
  } else {
    inner.source += " [not measured by calibrate: " +
                    std::string(m.devices < 2 ? "one GPU present" : "NCCL not built") + "]";
  }
  return cl;
}

std::string cuda_cluster_profile_json(const ClusterSpec& c, const CudaCalibration& m) {
  nlohmann::ordered_json j = cluster_to_json(c);
  j["source"] = "shardplan calibrate --backend cuda on " + m.device + " (" + std::to_string(m.devices) +
                " GPU(s)): the CUDA executor's measured rates on the shipped " + m.base_preset +
                " preset's datasheet figures";
  return j.dump(2) + "\n";
}

}  // namespace shardplan::executor::cuda

namespace shardplan::executor {
std::string calibrate_cuda_profile_json() {
  const cuda::CudaCalibration m = cuda::calibrate_cuda();
  return cuda::cuda_cluster_profile_json(cuda::cuda_cluster_profile(m), m);
}
}  // namespace shardplan::executor
