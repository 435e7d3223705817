// The preprocessor pool's work on one image: the vision cache first (serving/vision_cache.h),
// else decoding and resizing (model/image/preprocess.h). Apart from the cache's format so that
// what only reads the cache (the engine core's prefix keys) does not bring in the image codecs.
#pragma once

#include <cstdint>
#include <vector>

#include "messages/pipeline.h"
#include "model/image/preprocess.h"
#include "storage/tiered_cache.h"

namespace pio {

// The preprocessor's answer for one image: its key (with or without a cache: the router keys
// prefix affinity on it) and, on a cache hit, the cached features (pixels left empty); otherwise
// the preprocessed pixels, the file and the limits (for a worker in another process, which
// preprocesses the file again). cache may be null.
// Throws ModelError for an image that cannot be decoded (only on a miss: a hit is that image).
PreparedImage prepare_image(const std::vector<uint8_t>& bytes, const PreprocessorConfig& config,
                            const ImageLimits& limits, TieredCache* cache);

}  // namespace pio
