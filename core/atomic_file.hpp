// Writing an output file so that nobody ever sees half of it: the bytes go to <path>.tmp.<pid>,
// are fsynced, and the temporary is renamed over <path> (then the directory is fsynced). A crash
// or a kill at any moment leaves either the previous file or the complete new one.
#pragma once
#include <string>
#include <string_view>

namespace shardplan {

// Throws UsageError ("cannot write <path>: <reason>") if any step fails; the temporary is removed.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace shardplan
