// Estimate -> JSON (a contract other tools read) and -> a readable summary.
#include "cli/estimate_json.hpp"

#include <fmt/format.h>

#include <cmath>

#include "cli/format.hpp"
#include "costmodel/gpu_variation.hpp"

namespace shardplan::cli {

using OJ = nlohmann::ordered_json;

namespace {
// Byte counts are whole bytes in the JSON (the model computes them in doubles).
int64_t whole(double bytes) { return std::llround(bytes); }
}  // namespace

OJ strategy_json(const Strategy& s) {
  OJ j;
  j["dp"] = s.dp;
  j["tp"] = s.tp;
  j["pp"] = s.pp;
  j["cp"] = s.cp;
  j["ep"] = s.ep;
  j["vp"] = s.vp;
  j["sp"] = s.sp;
  j["zero"] = s.zero;
  j["recompute"] = recompute_name(s.recompute);
  j["micro_batch"] = s.micro_batch;
  j["global_batch"] = s.global_batch;
  j["schedule"] = schedule_name(s.schedule);
  j["precision"] = dtype_name(s.precision);
  j["seq_len"] = s.seq_len;
  j["tp_comm_overlap"] = s.tp_comm_overlap;
  j["ep_comm_overlap"] = s.ep_comm_overlap;
  j["flash_attention"] = s.flash_attention;
  j["attention_kernel"] = attention_kernel_name(s.attention_kernel);
  j["overlap_grad_reduce"] = s.overlap_grad_reduce;
  j["grad_reduce"] = dtype_name(s.grad_reduce);
  j["fp8_param_gather"] = s.fp8_param_gather;
  j["async_tp_backward"] = s.async_tp_backward;
  j["zero3_impl"] = zero3_impl_name(s.zero3_impl);
  return j;
}

OJ estimate_json(const Estimate& e, const Strategy& s, const OpGraph& g) {
  OJ j;
  j["strategy"] = strategy_json(s);
  j["step_time_s"] = e.step_time_s;
  j["tokens_per_s"] = e.tokens_per_s;
  j["model_tflops_per_gpu"] = e.model_tflops_per_gpu;
  j["hardware_tflops_per_gpu"] = e.hardware_tflops_per_gpu;
  j["mfu"] = e.mfu;
  j["hfu"] = e.hfu;
  j["fits"] = e.fits;
  j["peak_memory_bytes"] = whole(e.peak_memory_bytes);
  j["peak_stage"] = e.peak_stage;
  if (!e.fits) j["overflow"] = {{"stage", e.peak_stage}, {"bytes", whole(e.overflow_bytes)}, {"detail", e.detail}};
  OJ stages = OJ::array();
  for (size_t i = 0; i < e.stages.size(); ++i) {
    const StageMemory& m = e.stages[i];
    OJ blocks = OJ::array();
    for (size_t c = i; c + 1 < e.chunk_bounds.size(); c += static_cast<size_t>(s.pp)) {
      int64_t a = e.chunk_bounds[c], b = e.chunk_bounds[c + 1];
      // As the plan's partition names them: the virtual stage v and the model-order chunk v*pp + i.
      blocks.push_back({{"virtual", c / s.pp}, {"chunk", c}, {"first_block", g.blocks[a].name}, {"last_block", g.blocks[b - 1].name},
                        {"blocks", b - a}});
    }
    stages.push_back({{"stage", i},
                      {"chunks", blocks},
                      {"params_bytes", whole(m.params_bytes)},
                      {"grads_bytes", whole(m.grads_bytes)},
                      {"optimizer_bytes", whole(m.optimizer_bytes)},
                      {"activations_bytes", whole(m.activations_bytes)},
                      {"working_bytes", whole(m.working_bytes)},
                      {"buffers_bytes", whole(m.buffers_bytes)},
                      {"runtime_bytes", whole(m.runtime_bytes)},
                      {"total_bytes", whole(m.total_bytes)},
                      {"inflight_micro_batches", m.inflight_micro_batches}});
  }
  j["memory"] = {{"per_stage", stages}};
  const Breakdown& b = e.breakdown;
  j["breakdown"] = {{"compute_s", b.compute_s},     {"recompute_s", b.recompute_s}, {"tp_comm_s", b.tp_comm_s},
                    {"cp_comm_s", b.cp_comm_s},     {"ep_comm_s", b.ep_comm_s},     {"pp_comm_s", b.pp_comm_s},
                    {"pp_bubble_s", b.pp_bubble_s}, {"dp_comm_s", b.dp_comm_s},     {"optimizer_s", b.optimizer_s}};
  j["bubble_fraction"] = e.bubble_fraction;
  j["exposed_comm_fraction"] = e.exposed_comm_fraction;
  return j;
}

std::string estimate_text(const Estimate& e, const Strategy& s, const ClusterSpec& c, const OpGraph& g,
                          double analytic_step_s) {
  std::string out;
  out += fmt::format("{} on {} x {} ({}), global batch {} x {} tokens\n", g.name, c.total_gpus(), c.gpu.name,
                     c.name, s.global_batch, g.seq_len);
  out += fmt::format("strategy  {}\n", strategy_to_string(s));
  // ZeRO-2/3 under a pipeline (core/strategy.hpp, zero_within_step): said, not silently priced.
  if (zero_within_step(s) != s.zero)
    out += fmt::format("note      with pp > 1, ZeRO-{} holds ZeRO-1's states at the peak (gradients whole until the "
                       "last micro-batch{})\n",
                       s.zero, s.zero == 3 ? "; parameters re-gathered before each backward" : "");
  out += "\n";
  out += fmt::format("step time        {}\n", human_seconds(e.step_time_s));
  out += fmt::format("tokens/s         {:.0f}\n", e.tokens_per_s);
  out += fmt::format("TFLOP/s per GPU  {:.1f} model, {:.1f} hardware\n", e.model_tflops_per_gpu, e.hardware_tflops_per_gpu);
  out += fmt::format("MFU / HFU        {:.1f}% / {:.1f}%\n", 100 * e.mfu, 100 * e.hfu);
  out += fmt::format("peak memory      {} of {} (stage {}){}\n\n", human_bytes(e.peak_memory_bytes),
                     human_bytes(c.gpu.memory_bytes), e.peak_stage, e.fits ? "" : "  DOES NOT FIT: " + e.detail);
  const Breakdown& b = e.breakdown;
  // The breakdown is the analytic estimate's; under `simulate` its terms add up to the estimate's
  // step, which the simulator then overlaps and reorders into its own.
  const double total = analytic_step_s > 0 ? analytic_step_s : e.step_time_s;
  out += analytic_step_s > 0 ? fmt::format("time breakdown (critical stage, analytic: adds up to {})\n", human_seconds(total))
                             : std::string("time breakdown (critical stage)\n");
  auto row = [&](const char* name, double v) {
    out += fmt::format("  {:<20} {:>12}  {:5.1f}%\n", name, human_seconds(v), 100 * v / total);
  };
  row("compute", b.compute_s);
  row("recompute", b.recompute_s);
  row("tp comm (exposed)", b.tp_comm_s);
  row("cp comm (exposed)", b.cp_comm_s);
  row("ep comm (exposed)", b.ep_comm_s);
  row("pp send/recv", b.pp_comm_s);
  row("pp bubble", b.pp_bubble_s);
  row("dp comm (exposed)", b.dp_comm_s);
  row("optimizer", b.optimizer_s);
  // The GPU-to-GPU spread (costmodel/gpu_variation.hpp) is inside compute and recompute: say so.
  const double slowest = slowest_gpu_factor(c.gpu, s.gpus());
  if (slowest > 1)
    out += fmt::format("  (GEMMs and attention at the pace of the slowest of {} GPUs: x{:.3f}, clock_variation {})\n",
                       s.gpus(), slowest, c.gpu.clock_variation);
  out += "\nmemory per GPU by stage\n";
  out += fmt::format("  {:>5} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}\n", "stage", "params",
                     "grads", "optimizer", "activations", "working", "buffers", "runtime", "total");
  for (size_t i = 0; i < e.stages.size(); ++i) {
    const StageMemory& m = e.stages[i];
    if (e.stages.size() > 8 && i > 2 && i + 3 < e.stages.size()) {
      if (i == 3) out += "    ...\n";
      continue;
    }
    out += fmt::format("  {:>5} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}\n", i,
                       human_bytes(m.params_bytes), human_bytes(m.grads_bytes), human_bytes(m.optimizer_bytes),
                       human_bytes(m.activations_bytes), human_bytes(m.working_bytes), human_bytes(m.buffers_bytes),
                       human_bytes(m.runtime_bytes), human_bytes(m.total_bytes));
  }
  return out;
}

}  // namespace shardplan::cli
