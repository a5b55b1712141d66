// OpGraph construction helpers, block totals and topological order (Boost.Graph).
#include "graph/op_graph.hpp"

#include <algorithm>
#include <boost/graph/topological_sort.hpp>
#include <stdexcept>

namespace shardplan {

const char* op_kind_name(OpKind k) {
  static const char* n[] = {"embedding", "norm",          "matmul", "attention",
                            "elementwise", "router", "expert_matmul", "loss"};
  return n[static_cast<int>(k)];
}
const char* split_name(Split s) {
  static const char* n[] = {"none", "columns", "rows", "heads", "experts", "sequence", "vocab"};
  return n[static_cast<int>(s)];
}
bool parse_op_kind(const std::string& s, OpKind& out) {
  for (int i = 0; i < 8; ++i)
    if (s == op_kind_name(static_cast<OpKind>(i))) return out = static_cast<OpKind>(i), true;
  return false;
}
bool parse_split(const std::string& s, Split& out) {
  for (int i = 0; i < 7; ++i)
    if (s == split_name(static_cast<Split>(i))) return out = static_cast<Split>(i), true;
  return false;
}

int64_t OpGraph::add_op(Op op) {
  auto v = boost::add_vertex(std::move(op), g);
  return static_cast<int64_t>(v);
}

void OpGraph::add_edge(int64_t from, int64_t to, double bytes_per_token) {
  boost::add_edge(static_cast<size_t>(from), static_cast<size_t>(to), TensorEdge{bytes_per_token}, g);
}

int64_t OpGraph::experts() const {
  int64_t n = 0;
  for (size_t v = 0; v < op_count(); ++v)
    if (g[v].kind == OpKind::expert_matmul) n = std::max(n, g[v].dims[2]);
  return n;
}

void OpGraph::finalize() {
  for (auto& b : blocks) {
    b.params = b.fwd_flops_per_token = b.saved_bytes_per_token = 0;
    b.is_moe = false;
    for (int64_t v : b.ops) {
      const Op& o = op(v);
      b.params += o.params;
      b.fwd_flops_per_token += o.fwd_flops_per_token;
      b.saved_bytes_per_token += o.saved_bytes_per_token;
      b.is_moe = b.is_moe || o.kind == OpKind::expert_matmul;
    }
    // The boundary tensor: the largest edge leaving the block for a later block.
    double out = 0;
    for (int64_t v : b.ops) {
      for (auto [e, end] = boost::out_edges(static_cast<size_t>(v), g); e != end; ++e) {
        auto t = boost::target(*e, g);
        if (g[t].block != op(v).block) out = std::max(out, g[*e].bytes_per_token);
      }
    }
    b.boundary_bytes_per_token = out;
  }
}

std::vector<int64_t> topological_order(const OpGraph& graph) {
  std::vector<size_t> rev;
  try {
    boost::topological_sort(graph.g, std::back_inserter(rev));
  } catch (const boost::not_a_dag&) {
    throw std::logic_error("the op graph has a cycle");
  }
  return std::vector<int64_t>(rev.rbegin(), rev.rend());
}

}  // namespace shardplan
