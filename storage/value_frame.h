// The on-disk form of a cached value: a header with a magic, the format version, the payload's
// length and an XXH3-64 checksum over the full key (model fingerprint included) and the
// payload, then the payload. A truncated, corrupted, foreign (written under another key or
// model) or older-format value fails to unframe and is dropped by the cache.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pio {

// 2: a KV block holds each head's rows in one run (gpu/kv_layout.h); blocks of version 1 were
// slot-major and are dropped.
inline constexpr uint32_t kCacheFormatVersion = 2;
inline constexpr size_t kValueFrameHeader = 24;  // magic 4, version 4, length 8, checksum 8

// key: the full key the value is stored under.
std::string frame_value(std::string_view key, std::string_view payload);

// The payload inside `framed` (a view into it), or nothing when the frame does not check.
std::optional<std::string_view> unframe_value(std::string_view key, std::string_view framed);

}  // namespace pio
