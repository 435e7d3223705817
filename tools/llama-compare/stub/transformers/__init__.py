"""A stand-in for the parts of transformers that llama.cpp's converter touches, read from the
checkpoint's own files: no config class (the converter falls back to config.json) and a
tokenizer that knows its vocabulary and added tokens (no pre-tokenizer hash: see convert.py)."""
import json
from pathlib import Path


class AutoConfig:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise OSError("stub: read config.json")


class _Added:
    def __init__(self, entry):
        self.content = entry["content"]
        self.special = entry.get("special", False)
        self.normalized = entry.get("normalized", False)


class _Tokenizer:
    def __init__(self, directory):
        data = json.loads((Path(directory) / "tokenizer.json").read_text(encoding="utf-8"))
        self.vocab = dict(data["model"]["vocab"])
        self.added_tokens_decoder = {}
        for entry in data.get("added_tokens", []):
            self.vocab[entry["content"]] = entry["id"]
            self.added_tokens_decoder[entry["id"]] = _Added(entry)
        self._by_id = {i: t for t, i in self.vocab.items()}

    def get_vocab(self):
        return dict(self.vocab)

    def get_added_vocab(self):
        return {a.content: i for i, a in self.added_tokens_decoder.items()}

    def encode(self, text, add_special_tokens=False):
        if text in self.vocab:
            return [self.vocab[text]]
        raise NotImplementedError("stub tokenizer: only whole tokens")

    def decode(self, ids):
        return "".join(self._by_id[i] for i in ids)


class AutoTokenizer:
    @staticmethod
    def from_pretrained(directory, *args, **kwargs):
        return _Tokenizer(directory)
