// torchtitan (v0.2.2, torchtitan/config/job_config.py) job config for a plan, as TOML. Data
// parallelism is FSDP2 (ZeRO-2 as fsdp_reshard_after_forward "never", ZeRO-3 "always"; under
// pipeline parallelism ZeRO-1 as "never" too, which holds ZeRO-1's states there, see
// grads_sharded_in_step) or, alone, DDP; pipeline schedules are torch.distributed.pipelining's;
// stages split by module names.
#include <fmt/format.h>

#include <array>

#include "plan/emit.hpp"
#include "plan/emit_common.hpp"
#include "plan/framework_rules.hpp"

namespace shardplan {

namespace {
struct Flavor {
  const char* family;
  const char* name;
  int64_t hidden, layers, heads, kv_heads;  // kv_heads 0: any
};
// The flavors of v0.2.2's models/<family>/__init__.py that shardplan's zoo can match by shape.
constexpr std::array<Flavor, 6> kFlavors = {{{"llama3", "8B", 4096, 32, 32, 8},
                                             {"llama3", "70B", 8192, 80, 64, 8},
                                             {"llama3", "405B", 16384, 126, 128, 8},
                                             {"deepseek_v3", "16B", 2048, 27, 16, 0},
                                             {"deepseek_v3", "236B", 5120, 60, 128, 0},
                                             {"deepseek_v3", "671B", 7168, 61, 128, 0}}};
constexpr std::array<const char*, 8> kQwen3Flavors = {"0.6B", "1.7B", "4B",      "8B",
                                                      "14B",  "32B",  "30B-A3B", "235B-A22B"};

std::string family_of(const ModelSpec& m) {
  if (m.name.rfind("qwen3", 0) == 0) return "qwen3";
  if (m.attention.kind == "mla" || (m.moe && m.moe->shared_experts > 0)) return "deepseek_v3";
  if (m.moe) return "llama4";
  return "llama3";
}

std::string flavor_of(const ModelSpec& m, const std::string& family) {
  if (family == "qwen3" && m.name.size() > 6) {
    std::string f = m.name.substr(6);
    for (char& c : f) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const char* q : kQwen3Flavors)
      if (f == q) return f;
  }
  for (const Flavor& f : kFlavors)
    if (family == f.family && m.hidden == f.hidden && m.layers == f.layers && m.heads == f.heads &&
        (f.kv_heads == 0 || m.kv_heads == f.kv_heads))
      return f.name;
  return "";
}

std::string q(const std::string& s) {
  return "\"" + s + "\"";
}

// module_fqns_per_model_part: one list per chunk in model order (torchtitan's "loop" style puts
// stage pp_rank + k*pp on each rank, the plan's chunk c = v*pp + stage).
std::string module_parts(const Plan& p) {
  std::string out = "[\n";
  for (const auto& c : emit::chunk_blocks(p)) {
    std::vector<std::string> names;
    if (c.embedding) names.push_back(q("tok_embeddings"));
    for (int64_t l = c.first_layer; l < c.first_layer + c.layers; ++l)
      names.push_back(q("layers." + std::to_string(l)));
    if (c.head) names.push_back(q("norm")), names.push_back(q("output"));
    std::string line;
    for (const auto& nm : names) line += (line.empty() ? "" : ", ") + nm;
    out += "  [" + line + "],\n";
  }
  return out + "]";
}


// RoPE as the model has it, under the names of the family's model args in v0.2.2: llama3's
// rope_scaling_args (Llama 3.1's scaling), deepseek_v3's YaRN (rope_factor, original_seq_len,
// beta_fast, beta_slow, mscale); any other scaling the family has no argument for.
std::string rope_text(const RopeSpec& r, const std::string& family) {
  std::string t = fmt::format("rope_theta {}", r.theta);
  const RopeScaling& s = r.scaling;
  if (s.type == "llama3" && family == "llama3")
    t += fmt::format(", rope_scaling_args (scaling_factor {}, low_freq_factor {}, high_freq_factor {}, "
                     "original_max_position_embeddings {})",
                     s.factor, s.low_freq_factor, s.high_freq_factor, s.original_max_position);
  else if (s.type == "yarn" && family == "deepseek_v3")
    t += fmt::format(", rope_factor {}, original_seq_len {}, beta_fast {}, beta_slow {}, mscale {}", s.factor,
                     s.original_max_position, s.beta_fast, s.beta_slow, s.mscale);
  else if (s.changes_training())
    t += fmt::format(", and {} RoPE scaling (factor {}), which torchtitan's {} model has no argument for", s.type,
                     s.factor, family);
  return t;
}

// v0.2.2's llama3 flavors all rotate with base 500000 and Llama 3.1's scaling (RoPEScalingArgs'
// defaults: factor 8, low and high frequency factors 1 and 4, 8192 original positions).
RopeSpec torchtitan_llama3_rope() {
  RopeSpec r;
  r.theta = 500000;
  r.scaling.type = "llama3";
  r.scaling.factor = 8;
  r.scaling.original_max_position = 8192;
  return r;
}

std::vector<std::string> notes_for(const Plan& p, const ModelSpec& m, const std::string& family,
                                   const std::string& flavor) {
  const Strategy& s = p.strategy;
  std::vector<std::string> n;
  if (flavor.empty())
    n.push_back(
        fmt::format("torchtitan has no {} flavor with these dimensions: register \"{}\" in "
                    "torchtitan/models/{}/__init__.py (dim {}, n_layers {}, n_heads {}, n_kv_heads "
                    "{}, vocab {}{})",
                    family, m.name, family, m.hidden, m.layers, m.heads, m.kv_heads, m.vocab,
                    m.learned_positions() ? "" : ", " + rope_text(m.rope, family)));
  else if (family == "llama3" && m.rope != torchtitan_llama3_rope())
    n.push_back(fmt::format("torchtitan's llama3 {} flavor rotates with {}; the model has {}: register a "
                            "flavor with the model's RoPE or the run trains other positions",
                            flavor, rope_text(torchtitan_llama3_rope(), family), rope_text(m.rope, family)));
  if (s.tp > 1 && !s.sp)
    n.push_back(
        "torchtitan's tensor parallelism always shards norms over the sequence (sequence "
        "parallel), which saves activation memory the plan counted");
  if (s.recompute == Recompute::selective)
    n.push_back(
        "torchtitan's op-level selective checkpointing saves matmul outputs and recomputes the "
        "rest, not Megatron's core-attention recompute that the plan priced (re-plan with "
        "--recompute op to price torchtitan's)");
  if (!s.flash_attention)
    n.push_back("torchtitan uses fused SDPA attention; the plan priced unfused attention");
  // torchao's Float8Linear saves its 16-bit input for backward (it re-casts it there); Transformer
  // Engine, which the plan priced, keeps the 1-byte FP8 copy.
  if (s.precision == DType::fp8)
    n.push_back(
        "torchao's float8 linears save their 16-bit inputs for backward, not the FP8 copies the plan "
        "counted (Transformer Engine's): expect more activation memory than predicted (about a "
        "sixth more on a GPT layer without recompute)");
  // FSDP2 reshards after every backward (v0.2.2 never calls set_reshard_after_backward), so under
  // gradient accumulation "never" only keeps weights from a forward to its backward.
  if (s.zero == 2 && s.pp == 1 && s.micro_batches() > 1)
    n.push_back(fmt::format(
        "torchtitan's FSDP2 reshards weights after each backward, so it all-gathers them for each "
        "of the {} micro-batches; the plan priced one all-gather per step (ZeRO-2)",
        s.micro_batches()));
  if (!s.overlap_grad_reduce)
    n.push_back("torchtitan overlaps the gradient reduction; the plan assumed it does not");
  return n;
}
}  // namespace

Emitted emit_torchtitan(const Plan& p) {
  const Strategy& s = p.strategy;
  emit::Gaps gaps(kTorchtitanVersion);
  const ModelSpec* m = emit::require_spec(p, gaps);
  for (const std::string& lack : framework_gaps(Framework::torchtitan, s, m)) gaps.need(false, lack);
  gaps.throw_if_any();
  const std::string family = family_of(*m), flavor = flavor_of(*m, family);
  Emitted e;
  e.notes = notes_for(p, *m, family, flavor);
  std::vector<std::string> head = emit::summary_lines(p, kTorchtitanVersion);
  head.push_back(
      fmt::format("launch on each of the {} node(s): torchrun --nnodes {} --nproc-per-node {} "
                  "--node-rank $NODE_RANK --master-addr $MASTER_ADDR --master-port 29500 -m "
                  "torchtitan.train --job.config_file <this file>",
                  p.cluster.nodes, p.cluster.nodes, p.cluster.gpus_per_node));
  for (const auto& note : e.notes) head.push_back("note: " + note);
  std::string t = emit::comment_block(head, "# ");
  t += "\n[job]\ndescription = " + q("shardplan plan: " + strategy_to_string(s)) + "\n";
  t += "\n[model]\nname = " + q(family) + "\nflavor = " + q(flavor.empty() ? m->name : flavor) +
       "\n";
  if (s.precision == DType::fp8) t += "converters = [\"quantize.linear.float8\"]\n";
  // With pipelining, one step is one pass of local_batch_size through the pipeline; without,
  // gradient accumulation runs global / (local * dp) micro-batches.
  t += fmt::format("\n[training]\nlocal_batch_size = {}\nglobal_batch_size = {}\nseq_len = {}\n",
                   s.pp > 1 ? s.global_batch / s.dp : s.micro_batch, s.global_batch, s.seq_len);
  t += "mixed_precision_param = " + q(s.precision == DType::fp32 ? "float32" : "bfloat16") + "\n";
  t += "mixed_precision_reduce = " + q("float32") + "\n";  // the only choice (framework_rules)
  const bool ddp = s.zero == 0;
  t += fmt::format(
      "\n[parallelism]\ndata_parallel_replicate_degree = {}\ndata_parallel_shard_degree = {}\n",
      ddp ? s.dp : 1, ddp ? 1 : s.dp);
  if (!ddp) t += "fsdp_reshard_after_forward = " + q(s.zero == 3 ? "always" : "never") + "\n";
  t += fmt::format("tensor_parallel_degree = {}\nenable_async_tensor_parallel = {}\n", s.tp,
                   s.tp_comm_overlap);
  t += fmt::format("pipeline_parallel_degree = {}\n", s.pp);
  if (s.pp > 1) {
    const char* sched = s.schedule == Schedule::gpipe ? "GPipe"
                        : s.vp > 1                    ? "Interleaved1F1B"
                                                      : "1F1B";
    t += "pipeline_parallel_schedule = " + q(sched) + "\n";
    t += fmt::format("pipeline_parallel_microbatch_size = {}\n", s.micro_batch);
    t += "module_fqns_per_model_part = " + module_parts(p) + "\n";
  }
  t += fmt::format(
      "context_parallel_degree = {}\nexpert_parallel_degree = {}\nexpert_tensor_parallel_degree = "
      "1\n",
      s.cp, s.ep);
  // The plan prices ring attention (K/V shards passed on step by step, each step beside the
  // attention of the shard already there): torchtitan's "alltoall" rotation; its default
  // "allgather" gathers every shard after the first sub-attention and holds them all.
  if (s.cp > 1) t += "context_parallel_rotate_method = \"alltoall\"\n";
  const bool op_level = s.recompute == Recompute::selective || s.recompute == Recompute::op;
  t += "\n[activation_checkpoint]\nmode = " + q(op_level ? "selective" : recompute_name(s.recompute)) + "\n";
  if (op_level) t += "selective_ac_option = \"op\"\n";
  // Async TP works only under torch.compile; float8 needs it to fuse its casts (docs/float8.md).
  t += fmt::format("\n[compile]\nenable = {}\n", s.tp_comm_overlap || s.precision == DType::fp8);
  // FSDP2 all-gathers the float8 weights (torchao's float8 all-gather; job_config.py Float8Linear).
  if (s.fp8_param_gather) t += "\n[quantize.linear.float8]\nenable_fsdp_float8_all_gather = true\n";
  e.text = std::move(t);
  return e;
}

}  // namespace shardplan
