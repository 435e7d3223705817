#include "serving/prefix_hash.h"

#include "storage/content_hash.h"

namespace pio {

PrefixHasher::PrefixHasher(int block_size, int32_t image_token_id, std::vector<std::string> image_keys)
    : block_size_(block_size), image_token_id_(image_token_id), image_keys_(std::move(image_keys)) {}

void PrefixHasher::extend(std::span<const int32_t> ids) {
  const auto full = static_cast<int64_t>(ids.size()) / block_size_;
  while (!stopped_ && static_cast<int64_t>(hashes_.size()) < full) {
    const int64_t first = static_cast<int64_t>(hashes_.size()) * block_size_;
    ContentHasher h;
    h.add(hashes_.empty() ? std::string() : hashes_.back());
    for (int64_t i = first; i < first + block_size_; ++i) {
      const int32_t id = ids[static_cast<size_t>(i)];
      if (id != image_token_id_) {
        h.add_number(id);
        previous_was_image_ = false;
        continue;
      }
      if (previous_was_image_) {
        ++in_image_;
      } else {
        ++image_;
        in_image_ = 0;
      }
      previous_was_image_ = true;
      if (image_ >= static_cast<int64_t>(image_keys_.size()) || image_keys_[static_cast<size_t>(image_)].empty()) {
        stopped_ = true;
        return;
      }
      h.add_number(-1).add(image_keys_[static_cast<size_t>(image_)]).add_number(in_image_);  // -1: no token id
    }
    hashes_.push_back(h.hex());
  }
}

}  // namespace pio
