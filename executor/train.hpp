// The executor's driver behind run_training, templated on the math type so tests can also run
// whole plans in float64, and able to hand back the final parameters as full tensors.
#pragma once
#include "executor/run.hpp"
#include "executor/unit.hpp"

namespace shardplan::executor {

template <class T>
RunReport train(const RunOptions& options, ParamStore<T>* final_params = nullptr,
                const AdamWConfig& adamw = AdamWConfig());

}  // namespace shardplan::executor
