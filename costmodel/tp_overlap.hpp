// A TP collective running beside a GEMM: what the pair costs, SM contention included, for
// Megatron's asynchronous backward collectives (NCCL) and Transformer Engine's TP overlap
// (--tp-comm-overlap: ring exchange, pipelined reduce-scatter, bulk), with TE's defaults from
// initialize_ub in transformer_engine/pytorch/module/base.py.
#pragma once
#include "core/dtype.hpp"
#include "core/hardware.hpp"

namespace shardplan {

// A GEMM of `g` seconds alone beside a collective of `c` seconds whose kernel holds comm_sms of the
// SMs: while both run the GEMM progresses at f = 1 - comm_sms/sms, at full rate once the
// collective is done. Returns the time both take (>= max(g, c)).
double beside_collective(const GpuSpec& gpu, double g, double c);

// The fraction of the SMs a collective's kernels hold while they run (comm_sms / sms; 0 for a
// profile without SMs).
double comm_sm_fraction(const GpuSpec& gpu);

// What a collective of `comm` seconds issued beside compute (a DP reduction behind the backward,
// ZeRO-3's gathers) costs the step when `exposed` seconds of it outlast that compute: the compute
// runs on the SMs the collective leaves while they overlap, so the cost is the larger of the
// exposed tail and comm * comm_sm_fraction (beside_collective's two cases, max(c - g, c (1 - f))).
double beside_compute_s(const GpuSpec& gpu, double comm, double exposed);

// Ring exchange (the all-gathers before qkv/fc1 forward and proj/fc2 input-gradient): the GEMM
// (m x k) x (k x n) is cut into tp chunks of m/tp rows; chunk i computes while the copy engines
// bring shard i+1 (no SMs taken). The chunks run on rotating streams and fill each other's waves,
// so a chunk costs 1/tp of the whole GEMM. Time: one chunk, then tp-1 steps of max(chunk, one
// shard's transfer = all_gather_s / (tp-1)).
double te_ring_exchange_s(const GpuSpec& gpu, DType dt, double m, double n, double k, double tp,
                          double all_gather_s);

// Pipelined reduce-scatter (proj and fc2 forward): 4 chunks of m/4 rows (each 1/4 of the whole
// GEMM, rotating streams as above) on sms - comm_sms SMs
// (set_sm_margin); chunk i's reduce-scatter runs beside chunk i+1, the last one alone.
double te_pipeline_rs_s(const GpuSpec& gpu, DType dt, double m, double n, double k, double reduce_scatter_s);

// Bulk overlap (qkv/fc1 backward): the collective runs beside a whole GEMM that keeps
// sms - comm_sms SMs for its full length (set_sm_margin).
double te_bulk_s(const GpuSpec& gpu, double gemm_s, double collective_s);

}  // namespace shardplan
