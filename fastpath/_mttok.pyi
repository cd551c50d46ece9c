"""Stub of the compiled FIN tokenizer; the pure twin ``fastpath._mttok_py`` has the same API."""

from fastpath._mttok_py import MtSyntaxError as MtSyntaxError

__all__ = [
    "DEFAULT_MAX_SIZE",
    "MtSyntaxError",
    "split_blocks",
    "split_fields",
    "split_subblocks",
    "tokenize",
]

DEFAULT_MAX_SIZE: int

def split_blocks(text: str, max_size: int = 65536) -> list[tuple[str, str, int]]: ...
def split_subblocks(content: str, base: int = 0) -> list[tuple[str, str]]: ...
def split_fields(content: str, base: int = 0) -> list[tuple[str, str, int]]: ...
def tokenize(
    text: str, max_size: int = 65536
) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]: ...
