// TP collectives beside GEMMs (see tp_overlap.hpp).
#include "costmodel/tp_overlap.hpp"

#include <algorithm>

#include "costmodel/gemm.hpp"

namespace shardplan {

namespace {
// The fraction of the SMs a GEMM keeps while a collective holds comm_sms of them.
double gemm_share(const GpuSpec& gpu) {
  return gpu.sms > 0 ? 1.0 - double(gpu.comm_sms) / double(gpu.sms) : 1.0;
}
}  // namespace

double beside_collective(const GpuSpec& gpu, double g, double c) {
  const double f = gemm_share(gpu);
  return c * f >= g ? c : g + c * (1 - f);
}

double comm_sm_fraction(const GpuSpec& gpu) { return 1 - gemm_share(gpu); }

double beside_compute_s(const GpuSpec& gpu, double comm, double exposed) {
  return std::max(exposed, comm * comm_sm_fraction(gpu));
}

double te_ring_exchange_s(const GpuSpec& gpu, DType dt, double m, double n, double k, double tp,
                          double all_gather_s) {
  // The chunks run on Transformer Engine's rotating compute streams (num_max_streams 3), so
  // consecutive chunk GEMMs fill each other's last wave: together they take the whole GEMM's time.
  const double chunk = gemm_time_s(gpu, dt, m, n, k) / tp;
  const double step = all_gather_s / (tp - 1);
  return chunk + (tp - 1) * std::max(chunk, step);
}

double te_pipeline_rs_s(const GpuSpec& gpu, DType dt, double m, double n, double k, double reduce_scatter_s) {
  constexpr double kSplits = 4;  // TE's num_splits for the pipeline method
  const double chunk = gemm_time_s(gpu, dt, m, n, k) / kSplits / gemm_share(gpu);  // rotating streams, as above
  const double rs = reduce_scatter_s / kSplits;
  return chunk + (kSplits - 1) * std::max(chunk, rs) + rs;
}

double te_bulk_s(const GpuSpec& gpu, double gemm_s, double collective_s) {
  return std::max(gemm_s / gemm_share(gpu), collective_s);
}

}  // namespace shardplan
