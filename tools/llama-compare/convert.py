"""Runs llama.cpp's convert_hf_to_gguf.py on Debian's packages alone (python3-torch 1.13,
python3-tqdm): a stand-in `transformers` (stub/) and Qwen's pre-tokenizer named directly (the
converter finds it by hashing a real tokenizer's output).
  /usr/bin/python3 convert.py LLAMA_CPP_DIR CHECKPOINT_DIR [convert_hf_to_gguf.py options...]"""
import runpy
import sys
from pathlib import Path

llama = Path(sys.argv[1])
sys.path[:0] = [str(Path(__file__).parent / "stub"), str(llama / "gguf-py"), str(llama)]
import torch  # noqa: E402

for missing in ("float8_e4m3fn", "float8_e5m2"):  # torch 1.13 has no float8 types
    if not hasattr(torch, missing):
        setattr(torch, missing, torch.uint8)
from conversion import base  # noqa: E402

base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
sys.argv = ["convert_hf_to_gguf.py"] + sys.argv[2:]
runpy.run_path(str(llama / "convert_hf_to_gguf.py"), run_name="__main__")
