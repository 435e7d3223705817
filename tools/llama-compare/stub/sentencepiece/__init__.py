"""Stand-in: Qwen has no tokenizer.model, so the converter only imports this before falling back."""


class SentencePieceProcessor:
    pass
