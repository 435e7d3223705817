// Content hashes for cache keys and value checksums, from the xxHash library (XXH3): 128 bits
// as 32 hex digits for keys (collisions are negligible at any cache size), 64 bits for checksums.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pio {

// Accumulates bytes, then gives their XXH3-128 hash as 32 lowercase hex digits.
class ContentHasher {
 public:
  ContentHasher();
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;

  ContentHasher& add(std::string_view bytes);
  ContentHasher& add(const void* data, size_t size);
  // A number, in a fixed 8-byte form, so ("ab", 1) and ("a", "b1") never collide by layout.
  ContentHasher& add_number(int64_t value);
  std::string hex() const;

 private:
  void* state_;  // XXH3_state_t, kept out of this header
};

// XXH3-128 of bytes, as 32 hex digits.
std::string content_hash(std::string_view bytes);

// XXH3-64 of `head` then `tail` (as if concatenated): the checksum stored with every cached value.
uint64_t checksum64(std::string_view head, std::string_view tail);

}  // namespace pio
