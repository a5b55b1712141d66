// OpGraph: the model as ops and tensor edges (Boost.Graph), tagged with pipeline blocks.
// Every input form (transformer spec, HF config, explicit graph) becomes this one structure.
// Per-token quantities are at the model's sequence length; shapes let the cost model re-price
// an op at any sharding and micro-batch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "core/dtype.hpp"

namespace shardplan {

enum class OpKind {
  embedding,    // token (+ position) lookup: dims [vocab, hidden]
  norm,         // layernorm / rmsnorm: dims [width]
  matmul,       // dense linear: dims [n_out, k_in] applied to every token
  attention,    // attention core (QK^T, softmax, AV): dims [heads, kv_heads, qk_dim, v_dim]
  elementwise,  // activation, dropout, residual add: dims [width]
  router,       // MoE gate: dims [experts, hidden]
  expert_matmul,// routed experts' linear: dims [n_out, k_in, experts, top_k]
  loss,         // softmax cross-entropy over the vocabulary: dims [vocab]
};

// How an op may be split across GPUs.
enum class Split { none, columns, rows, heads, experts, sequence, vocab };

const char* op_kind_name(OpKind k);
const char* split_name(Split s);
bool parse_op_kind(const std::string& s, OpKind& out);
bool parse_split(const std::string& s, Split& out);

struct Op {
  std::string name;
  OpKind kind = OpKind::elementwise;
  Split split = Split::none;
  std::vector<int64_t> dims;
  DType dtype = DType::bf16;
  int64_t block = 0;             // index into OpGraph::blocks
  double params = 0;             // parameters owned
  double fwd_flops_per_token = 0;
  double bwd_flops_per_token = 0;
  double bytes_per_token = 0;    // activations read + written in forward (16-bit)
  double saved_bytes_per_token = 0;  // kept from forward for backward (16-bit)
  double token_factor = 1;       // tokens it sees per input token (routed experts: top_k)
  bool dropout = false;          // elementwise dropout (keeps a 1-byte mask)
  bool tp_replicated = false;    // computed in full on every TP rank unless sequence-parallel
  bool saved_replicated = false; // its saved tensor is full on every TP rank unless SP
  // matmul: the output widths of the separate linear layers this fused GEMM stands for in
  // torchtitan-style models, each its own matmul call there (qkv: q, k, v; a gated fc1: w1, w3).
  // Empty: one linear of width dims[0]. Op-level selective checkpointing counts those calls.
  std::vector<int64_t> linear_outputs;

  // An attention op's sliding window (its optional fifth dim); 0 for full attention.
  double attention_window() const { return kind == OpKind::attention && dims.size() > 4 ? double(dims[4]) : 0; }
};

struct TensorEdge {
  double bytes_per_token = 0;  // size of the tensor flowing along the edge
};

using OpGraphBase = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Op, TensorEdge>;

// A pipeline-cuttable unit: embedding, one transformer layer, the head, or an explicit block.
struct Block {
  std::string name;
  std::string type;            // blocks with the same type cost the same (layer signature)
  std::vector<int64_t> ops;    // vertex ids in topological order
  double params = 0;
  double fwd_flops_per_token = 0;
  double saved_bytes_per_token = 0;
  double boundary_bytes_per_token = 0;  // activation leaving the block (sent across a pipeline cut)
  bool is_moe = false;
};

struct OpGraph {
  std::string name;
  int64_t seq_len = 0;
  int64_t hidden = 0;          // width of the residual stream (pipeline messages)
  // Tied word embedding shared with the output layer: with pp > 1 the last stage keeps its own
  // copy (Megatron), which the block params (head.params = 0) do not show.
  double tied_output_params = 0;
  OpGraphBase g;
  std::vector<Block> blocks;   // in model order

  int64_t add_op(Op op);
  void add_edge(int64_t from, int64_t to, double bytes_per_token);
  const Op& op(int64_t v) const { return g[static_cast<size_t>(v)]; }
  size_t op_count() const { return boost::num_vertices(g); }
  // The most experts of any expert layer (an expert_matmul's dims[2]); 0 for a dense model.
  int64_t experts() const;
  // Recomputes block totals from the ops; call after building.
  void finalize();
};

// Ops in a topological order; throws std::logic_error if the graph has a cycle.
std::vector<int64_t> topological_order(const OpGraph& graph);

}  // namespace shardplan
