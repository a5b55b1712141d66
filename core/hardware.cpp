// Loading GPU and cluster presets (by name from hardware/, or from a file) with full validation.
#include "core/hardware.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/json_reader.hpp"

namespace fs = std::filesystem;

namespace shardplan {

namespace {
std::string g_program_dir;

const std::vector<std::string> kGpuKeys = {
    "name", "description", "memory_bytes", "memory_bandwidth_GBps", "sms", "peak_tflops",
    "gemm_peak_fraction", "attention_fwd_fraction", "attention_bwd_fraction", "attention_ramp_keys", "attention_kernels", "attention_head_dim", "sustained_compute_fraction", "clock_variation",
    "memory_bandwidth_fraction", "kernel_overhead_us", "gemm_tile_m", "gemm_tile_n", "gemm_pipeline_k", "comm_sms",
    "runtime_reserved_bytes", "allocator_fragmentation", "source"};

// Hardware figures are read within physical bounds (JsonObject::in_range): an extreme value that
// parses (a bandwidth of 1e-320, an overhead of 1e308) would make times infinite or NaN downstream.
double fraction(const JsonObject& o, const std::string& key, double def) {
  return o.in_range(key, o.get_number(key, def), 1e-9, 1, "a fraction");
}

// `{"64": {"fwd": f, "bwd": b}, "256": {...}}`: rates relative to head dim 128, each optional.
std::array<double, 4> head_dim_scale(const JsonObject& o, const std::string& key) {
  std::array<double, 4> out = {1, 1, 1, 1};
  if (!o.has(key)) return out;
  JsonObject hd = o.get_object(key);
  hd.reject_unknown({"64", "256"});
  for (int i = 0; i < 2; ++i) {
    const char* d = i == 0 ? "64" : "256";
    if (!hd.has(d)) continue;
    JsonObject fb = hd.get_object(d);
    fb.reject_unknown({"fwd", "bwd"});
    for (int j = 0; j < 2; ++j) {
      const char* pass = j == 0 ? "fwd" : "bwd";
      const double v = fb.get_number(pass, 1.0);
      if (!(v > 0 && v <= 2)) fb.fail(pass, "expected a rate relative to head dim 128 in (0, 2], found " + std::to_string(v));
      out[size_t(2 * i + j)] = v;
    }
  }
  return out;
}

GpuSpec gpu_from_json(const JsonObject& o) {
  o.reject_unknown(kGpuKeys);
  GpuSpec g;
  g.name = o.get_string("name");
  g.description = o.get_string("description", g.name);
  g.memory_bytes = o.in_range("memory_bytes", o.get_positive_number("memory_bytes"), 1e3, 1e16, "a size in bytes");
  g.memory_bandwidth_GBps = o.in_range("memory_bandwidth_GBps", o.get_positive_number("memory_bandwidth_GBps"),
                                    1e-6, 1e7, "a bandwidth in GB/s");
  g.sms = o.get_positive_int("sms");
  JsonObject peaks = o.get_object("peak_tflops");
  peaks.reject_unknown({"fp32", "tf32", "bf16", "fp16", "fp8"});
  for (int i = 0; i < kDTypeCount; ++i) {
    const char* k = dtype_name(static_cast<DType>(i));
    double v = peaks.get_number(k, 0.0);
    if (v != 0) peaks.in_range(k, v, 1e-9, 1e7, "a rate in TFLOP/s (0: no such math)");
    g.peak_tflops[i] = v;
  }
  if (g.peak_tflops[static_cast<int>(DType::fp32)] <= 0)
    peaks.fail("fp32", "expected a positive fp32 rate in TFLOP/s");
  g.gemm_peak_fraction = fraction(o, "gemm_peak_fraction", g.gemm_peak_fraction);
  g.attention_fwd_fraction = fraction(o, "attention_fwd_fraction", g.attention_fwd_fraction);
  g.attention_bwd_fraction = fraction(o, "attention_bwd_fraction", g.attention_bwd_fraction);
  g.attention_ramp_keys = o.in_range("attention_ramp_keys", o.get_number("attention_ramp_keys", g.attention_ramp_keys),
                                  0, 1e9, "a number of keys");
  if (o.has("attention_kernels")) {
    JsonObject ks = o.get_object("attention_kernels");
    ks.reject_unknown(attention_kernel_names(1));
    for (int i = 1; i < kAttentionKernelCount; ++i) {
      const char* name = attention_kernel_name(static_cast<AttentionKernel>(i));
      if (!ks.has(name)) continue;
      JsonObject k = ks.get_object(name);
      k.reject_unknown({"fwd", "bwd", "head_dim"});
      g.attention_kernels[size_t(i)] = {fraction(k, "fwd", 0), fraction(k, "bwd", 0)};
      g.attention_head_dim_scale[size_t(i)] = head_dim_scale(k, "head_dim");
    }
  }
  g.attention_head_dim_scale[0] = head_dim_scale(o, "attention_head_dim");
  g.sustained_compute_fraction = fraction(o, "sustained_compute_fraction", g.sustained_compute_fraction);
  g.clock_variation = o.get_number("clock_variation", g.clock_variation);
  if (!(g.clock_variation >= 0 && g.clock_variation < 0.2))
    o.fail("clock_variation", "expected a relative standard deviation from 0 to below 0.2");
  g.memory_bandwidth_fraction = fraction(o, "memory_bandwidth_fraction", g.memory_bandwidth_fraction);
  g.kernel_overhead_us = o.in_range("kernel_overhead_us", o.get_number("kernel_overhead_us", g.kernel_overhead_us),
                                 0, 1e7, "a time in microseconds");
  g.gemm_tile_m = o.get_positive_int("gemm_tile_m", g.gemm_tile_m);
  g.gemm_tile_n = o.get_positive_int("gemm_tile_n", g.gemm_tile_n);
  g.gemm_pipeline_k = o.in_range("gemm_pipeline_k", o.get_number("gemm_pipeline_k", g.gemm_pipeline_k), 0, 1e7,
                              "a depth in elements");
  g.comm_sms = o.get_int("comm_sms", 0);
  if (g.comm_sms < 0 || g.comm_sms >= g.sms)
    o.fail("comm_sms", "expected a whole number of SMs from 0 to sms - 1 (" + std::to_string(g.sms - 1) + ")");
  g.runtime_reserved_bytes = o.get_number("runtime_reserved_bytes", 0.0);
  if (g.runtime_reserved_bytes < 0 || g.runtime_reserved_bytes >= g.memory_bytes)
    o.fail("runtime_reserved_bytes", "expected a non-negative number below memory_bytes");
  g.allocator_fragmentation = o.get_number("allocator_fragmentation", g.allocator_fragmentation);
  if (g.allocator_fragmentation < 0 || g.allocator_fragmentation >= 1)
    o.fail("allocator_fragmentation", "expected a fraction in [0, 1)");
  if (o.has("source")) {
    const Json& src = o.raw("source");
    if (src.is_string()) {
      g.source["*"] = src.get<std::string>();
    } else {
      JsonObject so = o.get_object("source");
      for (auto it = src.begin(); it != src.end(); ++it) {
        if (!it->is_string()) so.fail(it.key(), "expected a string naming the source");
        g.source[it.key()] = it->get<std::string>();
      }
    }
  }
  return g;
}

bool looks_like_path(const std::string& s) {
  return s.find('/') != std::string::npos || s.find(".json") != std::string::npos;
}

std::string find_preset(const std::string& kind, const std::string& name) {
  if (looks_like_path(name)) return name;
  for (const auto& dir : hardware_search_dirs()) {
    fs::path p = fs::path(dir) / kind / (name + ".json");
    std::error_code ec;  // a name too long for a path is simply not a preset
    if (fs::exists(p, ec)) return p.string();
  }
  std::vector<std::string> names = list_presets(kind);
  std::string msg = "unknown " + std::string(kind == "gpus" ? "GPU" : "cluster") + " \"" + name + "\"";
  std::string near = closest_match(name, names);
  if (!near.empty()) msg += " (did you mean \"" + near + "\"?)";
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  msg += "; expected one of: " + all;
  throw InputError(name, "", msg);
}

NetworkLevel level_from_json(const JsonObject& o, bool last) {
  o.reject_unknown({"name", "gpus", "bandwidth_GBps", "latency_us", "efficiency", "source"});
  NetworkLevel l;
  l.name = o.get_string("name");
  l.gpus = last ? o.get_positive_int("gpus", 0) : o.get_positive_int("gpus");
  l.bandwidth_GBps = o.in_range("bandwidth_GBps", o.get_positive_number("bandwidth_GBps"), 1e-6, 1e7, "a bandwidth in GB/s");
  l.latency_us = o.in_range("latency_us", o.get_number("latency_us", 0.0), 0, 1e7, "a latency in microseconds");
  l.efficiency = fraction(o, "efficiency", l.efficiency);
  l.source = o.get_string("source", "");
  return l;
}

ClusterSpec cluster_from_json(const JsonObject& o) {
  o.reject_unknown({"name", "gpu", "gpus_per_node", "nodes", "network", "source"});
  ClusterSpec c;
  c.name = o.get_string("name");
  const Json& g = o.raw("gpu");
  if (g.is_string()) {
    try {
      c.gpu = load_gpu(g.get<std::string>());
    } catch (const InputError& e) {
      o.fail("gpu", e.message());
    }
  } else {
    c.gpu = gpu_from_json(o.get_object("gpu"));
  }
  c.gpus_per_node = o.get_positive_int("gpus_per_node");
  c.nodes = o.get_positive_int("nodes", 1);
  for (auto [k, v] : {std::pair{"gpus_per_node", c.gpus_per_node}, {"nodes", c.nodes}})
    if (v > kMaxGpus) o.fail(k, "expected at most " + std::to_string(kMaxGpus) + ", found " + std::to_string(v));
  const Json& net = o.raw("network");
  if (!net.is_array() || net.empty())
    o.fail("network", "expected a non-empty array of levels, innermost first");
  for (size_t i = 0; i < net.size(); ++i) {
    JsonObject lo(net[i], o.file(), o.path_of("network") + "/" + std::to_string(i));
    c.network.push_back(level_from_json(lo, i + 1 == net.size()));
  }
  for (size_t i = 1; i < c.network.size(); ++i) {
    int64_t inner = c.network[i - 1].gpus, outer = c.network[i].gpus;
    if (outer != 0 && (outer < inner || outer % inner != 0))
      o.fail("network/" + std::to_string(i) + "/gpus",
             "expected a multiple of the inner level's domain (" + std::to_string(inner) + ")");
  }
  return c;
}
}  // namespace

int64_t ClusterSpec::domain_size(size_t level) const {
  if (level + 1 >= network.size() || network[level].gpus == 0) return total_gpus();
  return std::min(network[level].gpus, total_gpus());
}

void ClusterSpec::set_gpu_count(int64_t gpus) {
  if (gpus <= 0) throw UsageError("--gpus must be positive");
  if (gpus < gpus_per_node) {
    gpus_per_node = gpus;
    nodes = 1;
  } else {
    nodes = (gpus + gpus_per_node - 1) / gpus_per_node;
    if (nodes * gpus_per_node != gpus)
      throw UsageError("--gpus " + std::to_string(gpus) + " is not a whole number of " +
                       std::to_string(gpus_per_node) + "-GPU nodes of cluster " + name);
  }
}

void set_program_path(const std::string& argv0) {
  std::error_code ec;
  fs::path p = fs::canonical("/proc/self/exe", ec);
  if (ec) p = fs::absolute(argv0, ec);
  g_program_dir = p.parent_path().string();
}

std::string program_dir() { return g_program_dir; }

std::vector<std::string> data_roots() {
  std::vector<std::string> roots;
  if (const char* env = std::getenv("SHARDPLAN_DATA")) roots.emplace_back(env);
  if (!g_program_dir.empty()) {
    roots.push_back(g_program_dir + "/..");
    roots.push_back(g_program_dir);
  }
  roots.emplace_back(SHARDPLAN_SOURCE_DIR);
  roots.emplace_back(".");
  return roots;
}

std::string data_dir(const std::string& sub) {
  for (const auto& r : data_roots()) {
    fs::path p = fs::path(r) / sub;
    if (fs::is_directory(p)) return fs::weakly_canonical(p).string();
  }
  return sub;
}

std::vector<std::string> hardware_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("SHARDPLAN_HARDWARE")) dirs.emplace_back(env);
  dirs.push_back(data_dir("hardware"));
  return dirs;
}

std::vector<std::string> list_presets(const std::string& kind) {
  std::vector<std::string> names;
  for (const auto& dir : hardware_search_dirs()) {
    fs::path d = fs::path(dir) / kind;
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

GpuSpec gpu_from_json_text(const std::string& text, const std::string& file) {
  Json j = parse_json_text(text, file);
  return gpu_from_json(JsonObject(j, file, ""));
}

ClusterSpec cluster_from_json_text(const std::string& text, const std::string& file) {
  Json j = parse_json_text(text, file);
  return cluster_from_json(JsonObject(j, file, ""));
}

GpuSpec load_gpu(const std::string& name_or_file) {
  std::string file = find_preset("gpus", name_or_file);
  Json j = parse_json_file(file);
  return gpu_from_json(JsonObject(j, file, ""));
}

ClusterSpec load_cluster(const std::string& name_or_file) {
  std::string file = find_preset("clusters", name_or_file);
  Json j = parse_json_file(file);
  return cluster_from_json(JsonObject(j, file, ""));
}

double GpuSpec::attention_head_dim_factor(AttentionKernel k, double head_dim, bool backward) const {
  const auto& t = attention_head_dim_scale[size_t(k)];
  const double x = std::clamp(std::log2(std::max(head_dim, 1.0)) - 7.0, -1.0, 1.0);  // 64: -1, 256: 1
  const double end = x < 0 ? t[backward ? 1 : 0] : t[backward ? 3 : 2];
  return 1 + std::abs(x) * (end - 1);
}

}  // namespace shardplan
