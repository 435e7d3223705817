#include "serving/prepare_image.h"

#include "serving/vision_cache.h"

namespace pio {

PreparedImage prepare_image(const std::vector<uint8_t>& bytes, const PreprocessorConfig& config,
                            const ImageLimits& limits, TieredCache* cache) {
  PreparedImage out;
  out.cache_key = vision_cache_key(bytes, limits);  // also what the router's prefix affinity keys on
  if (cache) {
    if (const CacheValue hit = cache->get(out.cache_key))
      if (const auto features = parse_cached_features(*hit)) {  // one that does not parse is recomputed
        out.features = *hit;
        out.tokens = features->tokens;
        return out;
      }
  }
  out.pixels = preprocess_image(bytes, config, limits);
  out.tokens = out.pixels.merged_tokens(config.merge_size);
  out.file = bytes;
  out.limits = limits;
  return out;
}

}  // namespace pio
