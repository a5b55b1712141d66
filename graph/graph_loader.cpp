// Explicit op-graph loader: validates the JSON, derives each op's costs from its kind and dims,
// checks the graph is a DAG and orders blocks topologically for pipeline cuts.
#include "graph/graph_loader.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "graph/op_costs.hpp"

namespace shardplan {

namespace {
size_t dims_expected(OpKind k) {
  switch (k) {
    case OpKind::embedding: return 2;
    case OpKind::norm: return 1;
    case OpKind::matmul: return 2;
    case OpKind::attention: return 4;
    case OpKind::elementwise: return 1;
    case OpKind::router: return 2;
    case OpKind::expert_matmul: return 4;
    case OpKind::loss: return 1;
  }
  return 0;
}
const char* dims_meaning(OpKind k) {
  switch (k) {
    case OpKind::embedding: return "[vocab, hidden]";
    case OpKind::norm: return "[width]";
    case OpKind::matmul: return "[out_features, in_features]";
    case OpKind::attention: return "[heads, kv_heads, qk_head_dim, v_head_dim] (and optionally a fifth, the sliding window)";
    case OpKind::elementwise: return "[width]";
    case OpKind::router: return "[experts, hidden]";
    case OpKind::expert_matmul: return "[out_features, in_features, experts, top_k]";
    case OpKind::loss: return "[vocab]";
  }
  return "";
}
Split default_split(OpKind k) {
  switch (k) {
    case OpKind::embedding: return Split::vocab;
    case OpKind::matmul: return Split::columns;
    case OpKind::attention: return Split::heads;
    case OpKind::expert_matmul: return Split::experts;
    case OpKind::loss: return Split::vocab;
    default: return Split::none;
  }
}
}  // namespace

OpGraph op_graph_from_json(const JsonObject& o, int64_t seq_override) {
  o.reject_unknown({"format", "name", "seq_len", "hidden", "ops"});
  if (o.has("format") && o.get_string("format") != "shardplan.graph/1")
    o.fail("format", "expected \"shardplan.graph/1\"");
  OpGraph gr;
  gr.name = o.get_string("name", "graph");
  gr.seq_len = seq_override > 0 ? seq_override : o.get_positive_int("seq_len");
  gr.hidden = o.get_positive_int("hidden");
  const Json& ops = o.raw("ops");
  if (!ops.is_array() || ops.empty()) o.fail("ops", "expected a non-empty array of ops");
  if (ops.size() > 10'000'000) o.fail("ops", "expected at most 10,000,000 ops");
  std::map<std::string, int64_t> by_name;
  std::map<std::string, int64_t> block_index;
  std::vector<std::vector<std::string>> inputs(ops.size());
  std::vector<std::string> block_names;
  for (size_t i = 0; i < ops.size(); ++i) {
    JsonObject jo(ops[i], o.file(), "/ops/" + std::to_string(i));
    jo.reject_unknown({"name", "kind", "dims", "inputs", "block", "split", "dtype"});
    Op op;
    op.name = jo.get_string("name");
    if (by_name.count(op.name)) jo.fail("name", "expected a unique op name, found a second \"" + op.name + "\"");
    std::string kind = jo.get_string("kind");
    if (!parse_op_kind(kind, op.kind)) {
      std::vector<std::string> kinds;
      for (int k = 0; k < 8; ++k) kinds.emplace_back(op_kind_name(static_cast<OpKind>(k)));
      std::string near = closest_match(kind, kinds);
      jo.fail("kind", "unknown op kind \"" + kind + "\"" + (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
    }
    const Json& dims = jo.raw("dims");
    // Attention takes an optional fifth dim, its sliding window.
    const bool windowed = op.kind == OpKind::attention && dims.is_array() && dims.size() == 5;
    if (!dims.is_array() || (dims.size() != dims_expected(op.kind) && !windowed))
      jo.fail("dims", std::string("expected ") + std::to_string(dims_expected(op.kind)) +
                          " positive integers " + dims_meaning(op.kind) + " for kind " + kind);
    for (size_t k = 0; k < dims.size(); ++k) {
      if (!dims[k].is_number_integer() || dims[k].get<int64_t>() <= 0 || dims[k].get<int64_t>() > (int64_t{1} << 32))
        jo.fail("dims/" + std::to_string(k), "expected a positive integer below 2^32, found " + describe_json(dims[k]));
      op.dims.push_back(dims[k].get<int64_t>());
    }
    op.split = default_split(op.kind);
    if (jo.has("split")) {
      std::string sp = jo.get_string("split");
      if (!parse_split(sp, op.split))
        jo.fail("split", "expected one of none, columns, rows, heads, experts, sequence, vocab; found \"" + sp + "\"");
    }
    if (jo.has("dtype")) {
      auto dt = parse_dtype(jo.get_string("dtype"));
      if (!dt) jo.fail("dtype", "expected fp32, tf32, bf16, fp16 or fp8");
      op.dtype = *dt;
    }
    std::string block = jo.get_string("block");
    auto [it, inserted] = block_index.emplace(block, static_cast<int64_t>(block_names.size()));
    if (inserted) block_names.push_back(block);
    op.block = it->second;
    if (jo.has("inputs")) {
      const Json& in = jo.raw("inputs");
      if (!in.is_array()) jo.fail("inputs", "expected an array of op names");
      for (size_t k = 0; k < in.size(); ++k) {
        if (!in[k].is_string()) jo.fail("inputs/" + std::to_string(k), "expected an op name (string)");
        inputs[i].push_back(in[k].get<std::string>());
      }
    }
    derive_op_costs(op, gr.seq_len);
    std::string name = op.name;
    by_name[name] = gr.add_op(std::move(op));
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    for (size_t k = 0; k < inputs[i].size(); ++k) {
      auto it = by_name.find(inputs[i][k]);
      if (it == by_name.end()) {
        std::vector<std::string> names;
        for (auto& [n, v] : by_name) names.push_back(n);
        std::string near = closest_match(inputs[i][k], names);
        throw InputError(o.file(), "/ops/" + std::to_string(i) + "/inputs/" + std::to_string(k),
                         "dangling input: no op named \"" + inputs[i][k] + "\"" +
                             (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
      }
      const Op& src = gr.op(it->second);
      double bytes = 2.0 * (src.kind == OpKind::matmul || src.kind == OpKind::expert_matmul ? src.dims[0] : src.dims[0]);
      if (src.kind == OpKind::attention) bytes = 2.0 * src.dims[0] * src.dims[3];
      if (src.kind == OpKind::embedding) bytes = 2.0 * src.dims[1];
      gr.add_edge(it->second, static_cast<int64_t>(i), bytes);
    }
  }
  std::vector<int64_t> order;
  try {
    order = topological_order(gr);
  } catch (const std::logic_error&) {
    o.fail("ops", "expected an acyclic graph: the inputs form a cycle");
  }
  // Blocks ordered by their first op in topological order; each block's ops in that order.
  std::vector<int64_t> first(block_names.size(), -1);
  for (size_t pos = 0; pos < order.size(); ++pos) {
    int64_t b = gr.op(order[pos]).block;
    if (first[b] < 0) first[b] = static_cast<int64_t>(pos);
  }
  std::vector<int64_t> perm(block_names.size());
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
  std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return first[a] < first[b]; });
  std::vector<int64_t> new_index(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) new_index[perm[i]] = static_cast<int64_t>(i);
  for (size_t i = 0; i < perm.size(); ++i) {
    Block b;
    b.name = block_names[perm[i]];
    b.type = b.name;
    gr.blocks.push_back(b);
  }
  for (int64_t v : order) {
    Op& op = gr.g[static_cast<size_t>(v)];
    op.block = new_index[op.block];
    gr.blocks[op.block].ops.push_back(v);
  }
  // Blocks with the same ops (kinds, dims, splits) are the same type and share cached costs.
  for (auto& b : gr.blocks) {
    std::string sig;
    for (int64_t v : b.ops) {
      const Op& op = gr.op(v);
      sig += std::string(op_kind_name(op.kind)) + ":" + split_name(op.split);
      for (int64_t d : op.dims) sig.append(1, ',').append(std::to_string(d));  // (GCC 12 warns on "," + s)
      sig += ";";
    }
    b.type = sig;
  }
  // An edge must not go from a later block to an earlier one: pipeline stages run in block order.
  for (auto [e, end] = boost::edges(gr.g); e != end; ++e) {
    const Op& s = gr.op(boost::source(*e, gr.g));
    const Op& t = gr.op(boost::target(*e, gr.g));
    if (s.block > t.block)
      o.fail("ops", "op \"" + t.name + "\" (block \"" + gr.blocks[t.block].name + "\") feeds back into an earlier block \"" +
                        gr.blocks[s.block].name + "\": expected blocks in a pipeline order");
  }
  gr.finalize();
  return gr;
}

}  // namespace shardplan
