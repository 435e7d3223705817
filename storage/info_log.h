// RocksDB's info log for the cache database (DIR/LOG), written through spdlog's rotating file
// sink: at most max_bytes per file and keep_files older ones (LOG.1 ...). RocksDB's own logger
// must not be used on a disk that can fill: its file writer asserts (aborts the process) on the
// first append after a failed one. Here a failed write is dropped and nothing else happens.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

namespace rocksdb {
class Logger;
}

namespace pio {

// Never throws: a log file that cannot be opened gives a logger that drops every line.
std::shared_ptr<rocksdb::Logger> make_info_log(const std::filesystem::path& dir, size_t max_bytes, size_t keep_files);

}  // namespace pio
