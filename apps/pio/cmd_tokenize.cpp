// pio tokenize / pio detokenize: the model directory's tokenizer from the command line.
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/pio/cli_util.h"
#include "apps/pio/commands.h"
#include "apps/pio/option_checks.h"
#include "model/errors.h"
#include "model/tokenizer/tokenizer.h"

namespace pio::cli {

namespace {

// One JSON string per line. A blank line before another line is refused: skipped, it would put
// every later answer on the line of the text before it (blank lines at the end shift nothing).
std::vector<std::string> read_jsonl_strings(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(path + ": cannot open");
  std::vector<std::string> texts;
  std::size_t line_no = 0, first_blank = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      if (first_blank == 0) first_blank = line_no;
      continue;
    }
    if (first_blank != 0)
      throw ModelError(path + ":" + std::to_string(first_blank) +
                       ": a blank line (one JSON string per line, each answered on its line; \"\" is the empty text)");
    try {
      texts.push_back(nlohmann::json::parse(line).get<std::string>());
    } catch (const nlohmann::json::exception&) {  // its words are the library's; what was wrong is plain
      throw ModelError(path + ":" + std::to_string(line_no) + ": not a JSON string (one per line, e.g. \"Hello\")");
    }
  }
  return texts;
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  struct Args {
    std::string model, text, jsonl;
    bool no_special = false;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  add_model_option(cmd, a->model)->required();
  // One of the two: without either there is nothing to tokenize (it printed [] for no text).
  auto* input = cmd->add_option_group("input", "the text, or --jsonl");
  input->add_option("text", a->text, "text to tokenize");
  auto* jsonl = input->add_option("--jsonl", a->jsonl, "file with one JSON string per line");
  input->require_option(1);
  cmd->add_flag("--no-special", a->no_special, "treat added tokens such as <|im_end|> as plain text");
  add_threads_option(cmd, a->threads, "threads for --jsonl");
  cmd->callback([a, jsonl] {
    const auto tokenizer = load_tokenizer(a->model);
    if (jsonl->count() == 0) {
      std::cout << ids_to_json(tokenizer->encode(a->text, !a->no_special)) << "\n";
      return;
    }
    const auto texts = read_jsonl_strings(a->jsonl);
    for (const auto& ids : tokenizer->encode_batch(texts, static_cast<unsigned>(a->threads), !a->no_special)) {
      std::cout << ids_to_json(ids) << "\n";
    }
  });
}

void add_detokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("detokenize", "Print the text of comma-separated token ids");
  struct Args {
    std::string model, ids;
    bool skip_special = false;
  };
  auto a = std::make_shared<Args>();
  add_model_option(cmd, a->model)->required();
  cmd->add_option("ids", a->ids, "token ids, e.g. 9707,11,1879, or tokenize's output [9707,11,1879]")->required();
  cmd->add_flag("--skip-special-tokens", a->skip_special,
                "leave out special tokens such as <|im_start|> (Hugging Face's skip_special_tokens)");
  cmd->callback([a] {
    const auto tokenizer = load_tokenizer(a->model);
    const SpecialTokens special = a->skip_special ? SpecialTokens::skip : SpecialTokens::show;
    std::cout << tokenizer->decode(parse_ids(a->ids, "the ids", true), special) << "\n";
  });
}

}  // namespace pio::cli
