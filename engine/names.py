"""Generated container names (Docker's adjective_noun habit) and name validation."""

from __future__ import annotations

import re

from .errors import ConfigError

_ADJ = ("admiring", "agitated", "bold", "brave", "busy", "calm", "clever", "cool", "eager",
        "elated", "epic", "fervent", "festive", "focused", "friendly", "gallant", "gifted",
        "happy", "hopeful", "jolly", "keen", "kind", "lucid", "modest", "nifty", "nostalgic",
        "optimistic", "peaceful", "quirky", "relaxed", "serene", "sharp", "stoic", "sweet",
        "tender", "trusting", "upbeat", "vibrant", "wizardly", "zealous")
_NOUN = ("albattani", "archimedes", "babbage", "bell", "bohr", "curie", "darwin", "dijkstra",
         "einstein", "euclid", "fermat", "feynman", "galileo", "gauss", "hamilton", "hopper",
         "hypatia", "johnson", "kepler", "knuth", "lamport", "lovelace", "maxwell", "mccarthy",
         "meitner", "newton", "noether", "pascal", "ritchie", "shannon", "thompson", "tesla",
         "torvalds", "turing", "wozniak", "yalow")

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


def generate_name() -> str:
    import random

    return f"{random.choice(_ADJ)}_{random.choice(_NOUN)}"


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name) or len(name) > 253:
        raise ConfigError(f"invalid container name {name!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    return name
