// Fuzzes the cluster file loader (core/hardware.hpp), then sizes the cluster the way --gpus does
// and asks for every level's domain.
#include "core/hardware.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardplan_fuzz::run_loader(data, size, [](const std::string& text) {
    using shardplan_fuzz::check;
    shardplan::ClusterSpec c = shardplan::cluster_from_json_text(text, "fuzz.json");
    check(!c.network.empty() && c.gpus_per_node > 0 && c.nodes > 0, "a cluster has levels and GPUs");
    for (int64_t gpus : {int64_t{1}, int64_t{7}, int64_t{1024}}) {
      shardplan::ClusterSpec sized = c;
      try {
        sized.set_gpu_count(gpus);
      } catch (const shardplan::UsageError&) {
        continue;  // not a whole number of nodes: a usage error, exit 2
      }
      check(sized.total_gpus() == gpus, "set_gpu_count gives that many GPUs");
      for (size_t l = 0; l < sized.network.size(); ++l)
        check(sized.domain_size(l) > 0 && sized.domain_size(l) <= gpus, "domain within the cluster");
    }
  });
}
