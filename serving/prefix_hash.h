// The hash chain that names KV blocks for prefix caching (vLLM's block hash): block i's hash
// covers block i-1's hash and block i's tokens, so equal hashes mean equal prefixes. An image
// token stands for its image's vision cache key and its place in that image, so two prompts
// whose image placeholders match but whose pictures differ never share a block.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pio {

class PrefixHasher {
 public:
  // image_keys: the prompt's images in order; an image without a key ends the chain there.
  PrefixHasher(int block_size, int32_t image_token_id, std::vector<std::string> image_keys);

  // Hashes every full block of `ids` (the sequence's tokens so far, placeholders expanded)
  // that is not hashed yet.
  void extend(std::span<const int32_t> ids);
  // One hash (32 hex digits) per full block hashed so far.
  const std::vector<std::string>& hashes() const { return hashes_; }

 private:
  int block_size_;
  int32_t image_token_id_;
  std::vector<std::string> image_keys_;
  std::vector<std::string> hashes_;
  int64_t image_ = -1;         // the image of the last image token hashed
  int64_t in_image_ = 0;       // that token's index inside its image
  bool previous_was_image_ = false;
  bool stopped_ = false;       // an image without a key: no further block can be named
};

}  // namespace pio
