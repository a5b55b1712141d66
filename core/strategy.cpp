// Names of recompute modes and schedules; the strategy-string parser used by compare and fuzzers.
#include "core/strategy.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "core/error.hpp"

namespace shardplan {

const char* recompute_name(Recompute r) {
  static const char* n[] = {"none", "selective", "full", "op"};
  return n[static_cast<int>(r)];
}
const char* const kRecomputeChoices = "none, selective, full or op";
std::vector<std::string> recompute_names() {
  std::vector<std::string> out;
  for (int i = 0; i < kRecomputeCount; ++i) out.emplace_back(recompute_name(static_cast<Recompute>(i)));
  return out;
}
const char* schedule_name(Schedule s) {
  static const char* n[] = {"gpipe", "1f1b", "interleaved", "zb"};
  return n[static_cast<int>(s)];
}
bool parse_recompute(const std::string& s, Recompute& out) {
  for (int i = 0; i < kRecomputeCount; ++i)
    if (s == recompute_name(static_cast<Recompute>(i))) return out = static_cast<Recompute>(i), true;
  return false;
}
bool parse_schedule(const std::string& s, Schedule& out) {
  for (int i = 0; i < 4; ++i)
    if (s == schedule_name(static_cast<Schedule>(i))) return out = static_cast<Schedule>(i), true;
  return false;
}

namespace {
int64_t parse_count(const std::string& key, const std::string& v) {
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x <= 0 || x > (int64_t{1} << 40))
    throw UsageError("strategy: " + key + "=" + v + ": expected a positive integer");
  return x;
}
bool parse_flag(const std::string& key, const std::string& v) {
  if (v.empty() || v == "1" || v == "true" || v == "on") return true;
  if (v == "0" || v == "false" || v == "off") return false;
  throw UsageError("strategy: " + key + "=" + v + ": expected on/off");
}
}  // namespace

int64_t data_parallel_size(int64_t gpus, int64_t tp, int64_t pp, int64_t cp, const std::string& what) {
  auto fail = [&](const std::string& why) { throw UsageError(what + why); };
  for (auto [name, v] : {std::pair{"tp", tp}, std::pair{"pp", pp}, std::pair{"cp", cp}})
    if (v < 1 || v > gpus)
      fail(std::string(name) + " = " + std::to_string(v) + " must be between 1 and the " + std::to_string(gpus) + " GPUs");
  if (tp * pp > gpus || tp * pp * cp > gpus || gpus % (tp * pp * cp) != 0)  // tp*pp <= gpus^2: no overflow
    fail("tp*pp*cp = " + std::to_string(tp) + "*" + std::to_string(pp) + "*" + std::to_string(cp) +
         " does not divide " + std::to_string(gpus) + " GPUs");
  return gpus / (tp * pp * cp);
}

Strategy parse_strategy_string(const std::string& text, Strategy s) {
  static const std::vector<std::string> keys = {
      "dp", "tp", "pp", "cp", "ep", "vp", "sp", "zero", "recompute", "mbs", "micro_batch",
      "schedule", "precision", "tp_comm_overlap", "ep_comm_overlap", "flash_attention", "attention_kernel", "overlap_grad_reduce", "async_tp_backward",
      "grad_reduce", "fp8_param_gather", "zero3_impl"};
  if (text.empty()) throw UsageError("strategy: empty (expected key=value items such as \"tp=8,pp=4\")");
  size_t pos = 0;
  std::vector<std::string> seen;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) throw UsageError("strategy \"" + text + "\": empty item between commas");
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string val = eq == std::string::npos ? "" : item.substr(eq + 1);
    const std::string canonical = key == "micro_batch" ? "mbs" : key;
    if (std::find(seen.begin(), seen.end(), canonical) != seen.end())
      throw UsageError("strategy \"" + text + "\": " + key + " given twice");
    seen.push_back(canonical);
    if (key == "dp") s.dp = parse_count(key, val);
    else if (key == "tp") s.tp = parse_count(key, val);
    else if (key == "pp") s.pp = parse_count(key, val);
    else if (key == "cp") s.cp = parse_count(key, val);
    else if (key == "ep") s.ep = parse_count(key, val);
    else if (key == "vp") s.vp = parse_count(key, val);
    else if (key == "mbs" || key == "micro_batch") s.micro_batch = parse_count(key, val);
    else if (key == "sp") s.sp = parse_flag(key, val);
    else if (key == "tp_comm_overlap") s.tp_comm_overlap = parse_flag(key, val);
    else if (key == "ep_comm_overlap") s.ep_comm_overlap = parse_flag(key, val);
    else if (key == "flash_attention") s.flash_attention = parse_flag(key, val);
    else if (key == "attention_kernel") {
      if (!parse_attention_kernel(val, s.attention_kernel))
        throw UsageError("strategy: attention_kernel=" + val + ": expected default, fa2, cudnn or fa3");
    }
    else if (key == "overlap_grad_reduce") s.overlap_grad_reduce = parse_flag(key, val);
    else if (key == "async_tp_backward") s.async_tp_backward = parse_flag(key, val);
    else if (key == "fp8_param_gather") s.fp8_param_gather = parse_flag(key, val);
    else if (key == "zero3_impl") {
      if (!parse_zero3_impl(val, s.zero3_impl))
        throw UsageError("strategy: zero3_impl=" + val + ": expected " + kZero3ImplChoices);
    }
    else if (key == "zero") {
      if (val.size() != 1 || val[0] < '0' || val[0] > '3')
        throw UsageError("strategy: zero=" + val + ": expected 0, 1, 2 or 3");
      s.zero = val[0] - '0';
    } else if (key == "recompute") {
      if (!parse_recompute(val, s.recompute))
        throw UsageError("strategy: recompute=" + val + ": expected " + kRecomputeChoices);
    } else if (key == "schedule") {
      if (!parse_schedule(val, s.schedule))
        throw UsageError("strategy: schedule=" + val + ": expected gpipe, 1f1b, interleaved or zb");
    } else if (key == "precision") {
      auto d = parse_dtype(val);
      if (!d || *d == DType::tf32)
        throw UsageError("strategy: precision=" + val + ": expected fp32, bf16, fp16 or fp8");
      s.precision = *d;
    } else if (key == "grad_reduce") {
      auto d = parse_dtype(val);
      if (!d || (*d != DType::fp32 && *d != DType::bf16 && *d != DType::fp16))
        throw UsageError("strategy: grad_reduce=" + val + ": expected fp32, bf16 or fp16");
      s.grad_reduce = *d;
    } else {
      std::string near = closest_match(key, keys);
      throw UsageError("strategy: unknown key \"" + key + "\"" +
                       (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
    }
  }
  return s;
}

std::string grad_reduce_error(const Strategy& s) {
  if (s.grad_reduce == DType::fp32 || s.grad_reduce == sixteen_bit_of(s.precision)) return "";
  return std::string("gradients reduced in ") + dtype_name(s.grad_reduce) + " need " +
         (s.grad_reduce == DType::bf16 ? "bf16 or fp8" : s.grad_reduce == DType::fp16 ? "fp16" : "fp32 or 16-bit") +
         " training (precision is " + dtype_name(s.precision) + ")";
}

std::string strategy_to_string(const Strategy& s) {
  std::string out = "dp=" + std::to_string(s.dp) + ",tp=" + std::to_string(s.tp) +
                    ",pp=" + std::to_string(s.pp);
  if (s.cp > 1) out += ",cp=" + std::to_string(s.cp);
  if (s.ep > 1) out += ",ep=" + std::to_string(s.ep);
  if (s.vp > 1) out += ",vp=" + std::to_string(s.vp);
  if (s.sp) out += ",sp";
  out += ",zero=" + std::to_string(s.zero);
  out += std::string(",recompute=") + recompute_name(s.recompute);
  out += ",mbs=" + std::to_string(s.micro_batch);
  out += std::string(",schedule=") + schedule_name(s.schedule);
  if (s.tp_comm_overlap) out += ",tp_comm_overlap";
  if (s.ep_comm_overlap) out += ",ep_comm_overlap";
  if (!s.flash_attention) out += ",flash_attention=off";
  if (s.attention_kernel != AttentionKernel::gpu_default)
    out += std::string(",attention_kernel=") + attention_kernel_name(s.attention_kernel);
  if (!s.overlap_grad_reduce) out += ",overlap_grad_reduce=off";
  if (!s.async_tp_backward) out += ",async_tp_backward=off";
  if (s.grad_reduce != DType::fp32) out += std::string(",grad_reduce=") + dtype_name(s.grad_reduce);
  if (s.fp8_param_gather) out += ",fp8_param_gather";
  if (s.zero3_impl != Zero3Impl::fsdp) out += std::string(",zero3_impl=") + zero3_impl_name(s.zero3_impl);
  return out;
}

}  // namespace shardplan
