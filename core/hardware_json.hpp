// GPU and cluster specs as JSON in the hardware/ file format, key order fixed, for every writer of
// such files (plan files, `calibrate` profiles); hardware.cpp reads them back.
#pragma once
#include <nlohmann/json.hpp>

#include "core/hardware.hpp"

namespace shardplan {

nlohmann::ordered_json gpu_to_json(const GpuSpec& gpu);
// The cluster with its GPU inline; no top-level "source" (callers add one where they have it).
nlohmann::ordered_json cluster_to_json(const ClusterSpec& cluster);

}  // namespace shardplan
