#include "serving/prefix_keys.h"

#include <algorithm>

#include "model/mm_positions.h"
#include "serving/prefix_hash.h"
#include "serving/vision_cache.h"

namespace pio {

std::string kv_block_key(const std::string& hash) { return "kv/" + hash; }

std::vector<std::string> prefix_block_keys(const EngineJob& job, const ModelConfig& cfg, int block_size) {
  const int merge = cfg.vision ? cfg.vision->spatial_merge_size : 2;
  std::vector<ImageGrid> grids;
  for (size_t i = 0; i < job.images.size(); ++i) {
    const PixelValues& p = job.images[i];
    if (p.grid_t > 0) {
      grids.push_back({p.grid_t, p.grid_h, p.grid_w});
      continue;
    }
    const auto features = i < job.image_features.size() ? parse_cached_features(job.image_features[i]) : std::nullopt;
    if (!features || features->grids.size() != 1) return {};
    grids.push_back(features->grids[0]);
  }
  std::vector<int32_t> ids;
  try {
    ids = build_multimodal_prompt(job.ids, grids, cfg, merge).ids;
  } catch (const std::exception&) {
    return {};  // the engine refuses this job with the reason
  }
  ids.insert(ids.end(), job.resume_ids.begin(), job.resume_ids.end());  // a moved job's blocks go on through its output
  PrefixHasher hasher(block_size, cfg.image_token_id, job.image_keys);
  hasher.extend(ids);
  const auto usable = std::min(hasher.hashes().size(), (ids.size() - std::min<size_t>(ids.size(), 1)) / static_cast<size_t>(block_size));
  std::vector<std::string> keys;
  for (size_t b = 0; b < usable; ++b) keys.push_back(kv_block_key(hasher.hashes()[b]));
  return keys;
}

}  // namespace pio
