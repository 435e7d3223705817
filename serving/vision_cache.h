// The vision-embedding cache (issue 10): one entry per image, keyed by the image file's bytes
// and the pixel limits it is preprocessed under (the model fingerprint is the cache's own
// prefix); the value is exactly the file `pio encode-image` writes for that image alone.
// The preprocessor pool looks images up (serving/prepare_image.h: a hit skips preprocessing and
// the encoder); the engine group looks them up again when a job reaches the encoder (an
// identical image encoded for an earlier job in the queue is then a hit, so it is never encoded
// twice) and stores what it encodes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "model/image/preprocess.h"
#include "model/image_features.h"
#include "storage/tiered_cache.h"

namespace pio {

// "img/" and the XXH3-128 of the bytes and the limits.
std::string vision_cache_key(std::span<const uint8_t> image, const ImageLimits& limits);

// A cached value's features, or nothing when it does not parse (a value of an older writer).
std::optional<ImageFeatures> parse_cached_features(const std::string& bytes);

// Stores one image's features (an encode of that image alone, or its part of a joint encode).
void store_image_features(TieredCache& cache, const std::string& key, const ImageFeatures& features);

}  // namespace pio
