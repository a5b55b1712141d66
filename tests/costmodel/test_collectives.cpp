// Collective and point-to-point times against the nccl-tests closed forms (doc/PERFORMANCE.md,
// FORMULAS.md "Collectives"), on hand-made network levels whose every number is round.
#include <doctest/doctest.h>

#include "tests/approx.hpp"

#include "costmodel/collectives.hpp"

using namespace shardplan;

namespace {
// NVLink-like level: 100 GB/s per GPU one direction, efficiency 1, alpha = 10 us.
// B = 100e9 bytes/s, alpha = 1e-5 s.
NetworkLevel nv_level() {
  return NetworkLevel{"nv", 8, 100, 10, 1.0, "hand"};
}
// Network level: 25 GB/s, efficiency 1, alpha = 5 us. B = 25e9 bytes/s, alpha = 5e-6 s.
NetworkLevel ib_level() {
  return NetworkLevel{"ib", 0, 25, 5, 1.0, "hand"};
}

// Two nodes of 8 GPUs: NVLink inside a node, the network across.
ClusterSpec two_nodes() {
  ClusterSpec c;
  c.name = "hand-2x8";
  c.gpus_per_node = 8;
  c.nodes = 2;
  c.network = {nv_level(), ib_level()};
  return c;
}
}  // namespace

TEST_CASE("collectives: ring all-reduce is 2(n-1) alpha + 2(n-1)/n S/B") {
  // nccl-tests PERFORMANCE.md (FORMULAS.md): n = 8, S = 1e9 bytes, B = 1e11 B/s, alpha = 1e-5 s:
  //   2*7*1e-5 + 2*7/8 * 1e9/1e11 = 1.4e-4 + 0.0175 = 0.01764 s.
  CHECK(ring_all_reduce_s(8, 1e9, nv_level()) == testing::rel(0.01764).epsilon(1e-12));
  // n = 2: 2*1*1e-5 + 2*(1/2) * 0.01 = 2e-5 + 0.01 = 0.01002 s.
  CHECK(ring_all_reduce_s(2, 1e9, nv_level()) == testing::rel(0.01002).epsilon(1e-12));
}

TEST_CASE("collectives: ring all-gather / reduce-scatter is (n-1) alpha + (n-1)/n S/B") {
  // n = 8, S = 1e9 (the gathered size): 7*1e-5 + 7/8 * 0.01 = 7e-5 + 0.00875 = 0.00882 s.
  CHECK(ring_all_gather_s(8, 1e9, nv_level()) == testing::rel(0.00882).epsilon(1e-12));
  // One group inside one domain: all_gather_s and reduce_scatter_s are the single ring.
  ClusterSpec c = two_nodes();
  GroupPlacement g = place_group(c, 8, 1);
  CHECK(g.local == 8);
  CHECK(g.inner == g.outer);
  CHECK(all_gather_s(g, 1e9) == testing::rel(0.00882).epsilon(1e-12));
  CHECK(reduce_scatter_s(g, 1e9) == testing::rel(0.00882).epsilon(1e-12));
}

TEST_CASE("collectives: bus bandwidth equals the level's nominal bandwidth times its efficiency") {
  // PERFORMANCE.md: busbw = algbw * 2(n-1)/n for all-reduce, algbw = S / t. With alpha = 0 the
  // ring all-reduce time is 2(n-1)/n * S/(B*eff), so busbw = B*eff = 100e9 * 0.8 = 80e9 B/s.
  NetworkLevel l{"nv", 8, 100, 0, 0.8, "hand"};
  const double S = 4e9, n = 8;
  double t = ring_all_reduce_s(8, S, l);
  CHECK(S / t * 2 * (n - 1) / n == testing::rel(80e9).epsilon(1e-12));
  // All-gather: busbw = algbw * (n-1)/n (PERFORMANCE.md), the same 80e9 B/s.
  double tg = ring_all_gather_s(8, S, l);
  CHECK(S / tg * (n - 1) / n == testing::rel(80e9).epsilon(1e-12));
}

TEST_CASE("collectives: all_reduce_s inside a domain takes the cheaper of ring and tree") {
  // Double binary tree: 2*ceil(log2 n) alpha + 2 S/B. n = 8:
  //   S = 1e9: ring 0.01764 s, tree 2*3*1e-5 + 2*0.01 = 0.02006 s  -> ring (bandwidth-bound).
  //   S = 1e3: ring 1.4e-4 + 1.75e-8 = 1.400175e-4 s, tree 6e-5 + 2e-8 = 6.002e-5 s -> tree.
  CHECK(tree_all_reduce_s(8, 1e9, nv_level()) == testing::rel(0.02006).epsilon(1e-12));
  ClusterSpec c = two_nodes();
  GroupPlacement g = place_group(c, 8, 1);
  CHECK(all_reduce_s(g, 1e9) == testing::rel(0.01764).epsilon(1e-12));
  CHECK(all_reduce_s(g, 1e3) == testing::rel(6.002e-5).epsilon(1e-12));
}

TEST_CASE(
    "collectives: hierarchical all-reduce over 2 nodes of 8 = RS in node + AR across + AG in "
    "node") {
  // FORMULAS.md "Hierarchical": reduce-scatter inside the node, all-reduce of S/g across nodes,
  // all-gather inside the node. S = 1.6e9 bytes, g = 8 (S/g = 2e8).
  ClusterSpec c = two_nodes();
  GroupPlacement g = place_group(c, 16, 1);
  REQUIRE(g.n == 16);
  CHECK(g.local == 8);
  CHECK(g.inner->name == "nv");
  CHECK(g.outer->name == "ib");
  //   RS in node (ring, n=8, nv): 7*1e-5 + 7/8 * 1.6e9/1e11 = 7e-5 + 0.014 = 0.01407 s
  //   AR across (n=2, ib, 2e8): ring 2*1*5e-6 + 2*(1/2)*2e8/2.5e10 = 1e-5 + 0.008 = 0.00801 s;
  //     tree 2*1*5e-6 + 2*2e8/2.5e10 = 0.01601 s -> ring, 0.00801 s
  //   AG in node: 0.01407 s
  //   NCCL's ring is flat: 2*(16-1) = 30 steps, 2 of them across nodes, so 28 in-node hops
  //   against the hierarchy's 2*7 = 14: 14 more at 1e-5 = 1.4e-4 s (tuning.cc latency model)
  //   ring total 0.01407 + 0.00801 + 0.01407 + 0.00014 = 0.03629 s
  //   tree total 0.01407 + 0.01601 + 0.01407 = 0.04415 s -> ring
  const double rs = 7e-5 + 0.014, across = 1e-5 + 0.008, ag = rs, flat = 14 * 1e-5;
  CHECK(all_reduce_s(g, 1.6e9) == testing::rel(rs + across + ag + flat).epsilon(1e-12));
  CHECK(all_reduce_s(g, 1.6e9) == testing::rel(0.03629).epsilon(1e-12));
}

TEST_CASE("collectives: across many nodes a flat ring's latency grows with every rank, the tree's does not") {
  // 1536 ranks on 192 nodes of 8 (the Narayanan Table 2 ZeRO-3 run's size), S = 1 MB:
  //   ring all-gather: 1535 steps, 191 across (5e-6) and 1344 inside (1e-5):
  //     latency 191*5e-6 + 1344*1e-5 = 0.000955 + 0.01344 = 0.014395 s
  //     bandwidth across 191/192 * (1e6/8) / 2.5e10 = 4.9740e-6, inside 7/8 * 1e6/1e11 = 8.75e-6
  //   all-reduce: ring 2*0.014395 + 2*(4.9740e-6 + 8.75e-6) = 0.028817 s;
  //     tree 2*7*1e-5 + 2*ceil(log2 192)*5e-6 + 2*8.75e-6 + 2*(1e6/8)/2.5e10
  //        = 1.4e-4 + 8e-5 + 1.75e-5 + 1e-5 = 2.475e-4 s -> tree
  ClusterSpec c = two_nodes();
  c.nodes = 192;
  GroupPlacement g = place_group(c, 1536, 1);
  REQUIRE(g.local == 8);
  CHECK(all_gather_s(g, 1e6) == testing::rel(0.014395 + 191.0 / 192 * 1.25e5 / 2.5e10 + 8.75e-6).epsilon(1e-12));
  CHECK(all_reduce_s(g, 1e6) == testing::rel(2.475e-4).epsilon(1e-12));
}

TEST_CASE("collectives: a group that does not tile the node straddles two nodes and rings over the network") {
  // 8 GPUs per node: groups of 4 (stride 1) or of 2 ranks 4 apart tile it and stay on NVLink;
  // groups of 6 (ranks 6-11: 2 on one node, 4 on the other) or of 3 ranks 2 apart ({6, 8, 10})
  // cross the node boundary. The straddling group of 6 is the slowest: its 2-rank side has 2 NICs.
  // Hierarchy, S = 1e9: reduce-scatter and all-gather in a node over the larger side's 4 ranks,
  // 2 * (3*1e-5 + 3/4 * 1e9/1e11) = 0.01506; across, ring(2) of S/2 on ib (25 GB/s, 5 us), 2*5e-6
  // + 2*(1/2)*5e8/2.5e10 = 0.02001; the flat ring's extra in-node hops 2*1*3*1e-5 = 6e-5:
  // 0.03513 s (a flat ring at one NIC's speed would take 0.0667 s).
  ClusterSpec c = two_nodes();
  CHECK(place_group(c, 4, 1).outer->name == "nv");
  CHECK(place_group(c, 2, 4).outer->name == "nv");
  const GroupPlacement six = place_group(c, 6, 1);
  CHECK(six.local == 4);
  CHECK(six.local_min == 2);
  CHECK(six.domains == 2);
  CHECK(six.outer->name == "ib");
  CHECK(place_group(c, 3, 2).outer->name == "ib");
  CHECK(all_reduce_s(six, 1e9) == testing::rel(0.03513).epsilon(1e-12));
}

TEST_CASE("collectives: a group split unevenly across nodes moves its data through the smaller side's NICs") {
  // dp = 12 at stride 1 on 8-GPU nodes (48 GPUs): ranks 0-11 are 8 + 4, ranks 12-23 4 + 8. Every
  // group spans 2 nodes and one side has 4 ranks. All-reduce S = 1e9: in node over 8 ranks,
  // 2 * (7*1e-5 + 7/8 * 0.01) = 0.01764; across, ring(2) of S/4: 2*5e-6 + 2*(1/2)*2.5e8/2.5e10 =
  // 0.01001; extra hops 2*1*7*1e-5 = 1.4e-4: 0.02779 s. (With the group's 12 / 8 = 1 node taken
  // for its size, the network term vanished: 0.01764 s.) All-to-all of S: the 4-rank side sends
  // 8/12 of its data off the node, (12-1)*5e-6 + 8/12 * 1e9/2.5e10 = 0.026722 s.
  ClusterSpec c = two_nodes();
  c.nodes = 6;
  const GroupPlacement g = place_group(c, 12, 1);
  CHECK(g.local == 8);
  CHECK(g.local_min == 4);
  CHECK(g.domains == 2);
  CHECK(all_reduce_s(g, 1e9) == testing::rel(0.02779).epsilon(1e-12));
  CHECK(all_to_all_s(g, 1e9) == testing::rel(11 * 5e-6 + 8.0 / 12 * 1e9 / 2.5e10).epsilon(1e-12));
  // Only the groups that exist count: on 16 GPUs there is one, ranks 0-11 (8 + 4).
  c.nodes = 2;
  CHECK(place_group(c, 12, 1).local_min == 4);
}

TEST_CASE("collectives: the simulator's split puts only the cross-node bandwidth term on the NIC") {
  // The hierarchical all-reduce above: fixed = RS + AG in node (0.01407 each) + the across
  // latency 2*1*5e-6 = 1e-5 + the flat ring's 14 extra in-node hops 1.4e-4; nic = the across
  // bandwidth term 2*(1/2)*2e8/2.5e10 = 0.008 s.
  ClusterSpec c = two_nodes();
  CommTime ar = all_reduce_time(place_group(c, 16, 1), 1.6e9);
  CHECK(ar.fixed_s == testing::rel(2 * 0.01407 + 1e-5 + 1.4e-4).epsilon(1e-12));
  CHECK(ar.nic_s == testing::rel(0.008).epsilon(1e-12));
  CHECK(ar.total_s() == testing::rel(all_reduce_s(place_group(c, 16, 1), 1.6e9)).epsilon(1e-15));
  // All-gather: across latency 5e-6 + in-node 0.01407 + 7 extra in-node hops of the flat ring
  // (7e-5) fixed; across bandwidth 0.004 s on the NIC.
  CommTime ag = all_gather_time(place_group(c, 16, 1), 1.6e9);
  CHECK(ag.fixed_s == testing::rel(5e-6 + 0.01407 + 7e-5).epsilon(1e-12));
  CHECK(ag.nic_s == testing::rel(0.004).epsilon(1e-12));
  // A group inside one node never touches the NIC.
  CHECK(all_reduce_time(place_group(c, 8, 1), 1.6e9).nic_s == 0.0);
  CHECK(all_gather_time(place_group(c, 8, 1), 1.6e9).nic_s == 0.0);
  // p2p leaves the node when the neighbour is 8 ranks away, not 1; 4 stages 4 apart (ranks 0, 4,
  // 8, 12) leave it between the second and third stage.
  CHECK(p2p_crosses_domain(c, 8, 2));
  CHECK_FALSE(p2p_crosses_domain(c, 1, 2));
  CHECK_FALSE(p2p_crosses_domain(c, 4, 2));
  CHECK(p2p_crosses_domain(c, 4, 4));
}

TEST_CASE("collectives: hierarchical all-gather gathers across nodes (S/g) then inside the node") {
  // n = 16 over 2 nodes of 8, S = 1.6e9:
  //   across (n=2, ib, S/8 = 2e8): 1*5e-6 + 1/2 * 2e8/2.5e10 = 5e-6 + 0.004 = 0.004005 s
  //   inside (n=8, nv, S): 7e-5 + 7/8 * 0.016 = 0.01407 s
  //   NCCL's flat ring: 15 steps, 1 across and 14 inside, against the hierarchy's 1 + 7:
  //   7 more in-node hops, 7e-5 s;  total 0.018145 s.
  ClusterSpec c = two_nodes();
  GroupPlacement g = place_group(c, 16, 1);
  CHECK(all_gather_s(g, 1.6e9) == testing::rel(0.018145).epsilon(1e-12));
  CHECK(reduce_scatter_s(g, 1.6e9) == testing::rel(0.018145).epsilon(1e-12));
}

TEST_CASE("collectives: a DP group of 2 with stride 8 (TP = 8 inside) runs on the network only") {
  // Ranks 0 and 8 are on different nodes: local = 8/8 = 1 rank per node, outer = ib.
  // All-reduce S = 1e9: ring(2) on ib = 2*5e-6 + 2*(1/2)*1e9/2.5e10 = 1e-5 + 0.04 = 0.04001 s
  // (tree: 1e-5 + 0.08 -> ring); no intra-node part (a ring of 1 costs 0).
  ClusterSpec c = two_nodes();
  GroupPlacement g = place_group(c, 2, 8);
  CHECK(g.local == 1);
  CHECK(g.outer->name == "ib");
  CHECK(all_reduce_s(g, 1e9) == testing::rel(0.04001).epsilon(1e-12));
}

TEST_CASE("collectives: point-to-point is alpha + S/B on the level that joins the two ranks") {
  ClusterSpec c = two_nodes();
  // Neighbours 1 apart (same node, nv): 1e-5 + 1e8/1e11 = 1e-5 + 1e-3 = 0.00101 s.
  CHECK(p2p_s(c, 1, 2, 1e8) == testing::rel(0.00101).epsilon(1e-12));
  // 8 apart (rank 0 -> rank 8, the next node, ib): 5e-6 + 1e8/2.5e10 = 5e-6 + 0.004 = 0.004005 s.
  CHECK(p2p_s(c, 8, 2, 1e8) == testing::rel(0.004005).epsilon(1e-12));
  // 4 stages 2 apart (ranks 0, 2, 4, 6) stay in the node; 4 stages 4 apart cross at rank 4 -> 8.
  CHECK(p2p_s(c, 2, 4, 1e8) == testing::rel(0.00101).epsilon(1e-12));
  CHECK(p2p_s(c, 4, 4, 1e8) == testing::rel(0.004005).epsilon(1e-12));
}

TEST_CASE("collectives: all-to-all is (n-1)/n S/B per rank, network-bound across nodes") {
  // FORMULAS.md: (n-1)/n * S * beta over a full-bisection network, plus (n-1) alpha here.
  ClusterSpec c = two_nodes();
  // Inside a node, n = 8, S = 1e9 per rank: 7*1e-5 + 7/8 * 0.01 = 0.00882 s.
  CHECK(all_to_all_s(place_group(c, 8, 1), 1e9) == testing::rel(0.00882).epsilon(1e-12));
  // n = 16 over 2 nodes: 8/16 of the bytes leave the node over ib, 7/16 stay on nv:
  //   max(15*5e-6 + 0.5 * 1e9/2.5e10, 7/16 * 1e9/1e11) = max(0.020075, 0.004375) = 0.020075 s.
  CHECK(all_to_all_s(place_group(c, 16, 1), 1e9) == testing::rel(0.020075).epsilon(1e-12));
}

TEST_CASE("collectives: zero bytes or a group of one cost nothing") {
  ClusterSpec c = two_nodes();
  NetworkLevel l = nv_level();
  CHECK(ring_all_reduce_s(1, 1e9, l) == 0);
  CHECK(ring_all_gather_s(1, 1e9, l) == 0);
  CHECK(tree_all_reduce_s(1, 1e9, l) == 0);
  GroupPlacement one = place_group(c, 1, 1);
  CHECK(all_reduce_s(one, 1e9) == 0);
  CHECK(all_gather_s(one, 1e9) == 0);
  CHECK(reduce_scatter_s(one, 1e9) == 0);
  CHECK(all_to_all_s(one, 1e9) == 0);
  for (int64_t n : {8, 16}) {
    GroupPlacement g = place_group(c, n, 1);
    CHECK(all_reduce_s(g, 0) == 0);
    CHECK(all_gather_s(g, 0) == 0);
    CHECK(reduce_scatter_s(g, 0) == 0);
    CHECK(all_to_all_s(g, 0) == 0);
  }
}

TEST_CASE("calibration: the all-reduce latency is fitted to the faster of ring and tree") {
  // 16 ranks on the NVLink-like level (100 GB/s, alpha 10 us). The smallest message, 8 KiB: tree
  // 2 x log2(16) x 10 us + 2 x 8192 / 1e11 = 80.16 us; ring 2 x 15 x 10 us + 2 x 15/16 x 8192 / 1e11
  // = 300.15 us, so NCCL (and the estimator) run the tree. Read as a ring, 80.16 us / 30 = 2.67 us
  // per hop: small all-reduces priced 3.75x too fast. The fit over sizes recovers 10 us.
  const NetworkLevel truth = nv_level();
  CHECK(level_all_reduce_s(16, 8192, truth) == testing::rel(80.16e-6).epsilon(1e-4));
  std::vector<std::pair<double, double>> points;
  for (double b = 8192; b <= 1 << 30; b *= 4) points.emplace_back(b, level_all_reduce_s(16, b, truth));
  NetworkLevel guess = truth;
  guess.latency_us = 123;  // ignored
  CHECK(fit_all_reduce_latency_us(16, points, guess) == testing::rel(10.0).epsilon(0.02));
  // At 2 ranks ring and tree agree (2 hops each): 8 KiB takes 2 x alpha + 2 x 1/2 x 8192 / 1e11.
  points.clear();
  for (double b = 8192; b <= 1 << 30; b *= 4) points.emplace_back(b, level_all_reduce_s(2, b, truth));
  CHECK(fit_all_reduce_latency_us(2, points, guess) == testing::rel(10.0).epsilon(0.02));
}
