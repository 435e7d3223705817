#include "serving/vision_cache.h"

#include "model/errors.h"
#include "storage/content_hash.h"

namespace pio {

std::string vision_cache_key(std::span<const uint8_t> image, const ImageLimits& limits) {
  ContentHasher h;
  h.add(image.data(), image.size());
  h.add_number(static_cast<int64_t>(image.size()));
  h.add_number(limits.min_pixels).add_number(limits.max_pixels).add_number(limits.max_decoded_pixels);
  return "img/" + h.hex();
}

std::optional<ImageFeatures> parse_cached_features(const std::string& bytes) {
  try {
    return image_features_from_bytes(bytes, "cached image features");
  } catch (const ModelError&) {
    return std::nullopt;
  }
}

void store_image_features(TieredCache& cache, const std::string& key, const ImageFeatures& features) {
  cache.put(key, image_features_bytes(features));
}

}  // namespace pio
