#include "storage/info_log.h"

#include <cstdarg>
#include <cstdio>
#include <string>

#include <rocksdb/env.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/rotating_file_sink.h>

namespace pio {
namespace {

class RotatingInfoLog : public rocksdb::Logger {
 public:
  explicit RotatingInfoLog(std::shared_ptr<spdlog::sinks::sink> sink)
      : logger_("rocksdb") {
    if (sink) logger_.sinks().push_back(std::move(sink));
    logger_.set_pattern("%Y/%m/%d-%H:%M:%S.%f %t %v");
    logger_.set_error_handler([](const std::string&) {});  // a full disk loses lines, nothing more
    logger_.flush_on(spdlog::level::warn);
  }
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    va_list copy;
    va_copy(copy, ap);
    const int n = std::vsnprintf(line, sizeof line, format, copy);
    va_end(copy);
    if (n < 0) return;
    if (static_cast<size_t>(n) < sizeof line) {
      logger_.info(std::string_view(line, static_cast<size_t>(n)));
      return;
    }
    std::string long_line(static_cast<size_t>(n) + 1, '\0');
    std::vsnprintf(long_line.data(), long_line.size(), format, ap);
    long_line.pop_back();
    logger_.info(std::string_view(long_line));
  }
  void Flush() override { logger_.flush(); }

 private:
  spdlog::logger logger_;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> make_info_log(const std::filesystem::path& dir, size_t max_bytes, size_t keep_files) {
  std::shared_ptr<spdlog::sinks::sink> sink;
  try {
    sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>((dir / "LOG").string(), max_bytes, keep_files);
  } catch (const std::exception&) {
    // No log file (unwritable directory, full disk): lines are dropped.
  }
  return std::make_shared<RotatingInfoLog>(std::move(sink));
}

}  // namespace pio
