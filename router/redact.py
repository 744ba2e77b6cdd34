"""Remove secrets from text that came from a provider before anyone else sees it.

An upstream may echo our key back in an error ("Incorrect API key provided:
sk-abc…"), whole, cut short, split in two or upper-cased. Every path that carries
upstream text to a client, a log line or the store goes through one `Redactor`:
it removes the secret and any fragment of it at least `MIN_FRAGMENT` characters
long that is a prefix or a suffix of it, in any letter case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

__all__ = ["MIN_FRAGMENT", "NOTHING", "REDACTED", "Redactor", "redact_url"]

#: The shortest piece of a secret that counts as leaking it.
MIN_FRAGMENT = 8
REDACTED = "[redacted]"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _spans(haystack: bytes, secret: bytes) -> list[tuple[int, int]]:
    """Where `haystack` (lower case) holds `secret` (lower case) or an 8+ byte prefix/suffix."""
    spans: list[tuple[int, int]] = []
    if len(secret) < MIN_FRAGMENT:
        start = haystack.find(secret)
        while start >= 0:
            spans.append((start, start + len(secret)))
            start = haystack.find(secret, start + 1)
        return spans
    head, tail = secret[:MIN_FRAGMENT], secret[-MIN_FRAGMENT:]
    start = haystack.find(head)
    while start >= 0:
        end = start + MIN_FRAGMENT
        while (
            end < len(haystack)
            and end - start < len(secret)
            and (haystack[end] == secret[end - start])
        ):
            end += 1
        spans.append((start, end))
        start = haystack.find(head, start + 1)
    end = haystack.find(tail)
    while end >= 0:
        first, length = end, MIN_FRAGMENT
        while (
            first > 0
            and length < len(secret)
            and (haystack[first - 1] == secret[len(secret) - length - 1])
        ):
            first -= 1
            length += 1
        spans.append((first, end + MIN_FRAGMENT))
        end = haystack.find(tail, end + 1)
    return spans


@attrs.frozen
class Redactor:
    """The secrets of one provider, ready to be searched for (lower-cased once)."""

    _secrets: tuple[bytes, ...] = attrs.field(repr=False, default=())

    @classmethod
    def of(cls, secrets: Iterable[str | None]) -> Redactor:
        # Shorter than 4 characters is not a secret worth the false positives.
        kept = {s.translate(_ASCII_LOWER).encode() for s in secrets if s and len(s) >= 4}
        return cls(tuple(sorted(kept, key=len, reverse=True)))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def bytes(self, data: bytes) -> bytes:
        """`data` with every secret and 8+ byte prefix or suffix of one replaced."""
        if not self._secrets:
            return data
        lowered = data.lower()  # ASCII only: positions stay the same
        spans = [span for secret in self._secrets for span in _spans(lowered, secret)]
        if not spans:
            return data
        out, last = [], 0
        for start, end in sorted(spans):
            if end <= last:
                continue
            out.append(data[last : max(start, last)])
            if start >= last:
                out.append(REDACTED.encode())
            last = end
        out.append(data[last:])
        return b"".join(out)

    def text(self, text: str) -> str:
        """`text` with every secret and 8+ character prefix or suffix of one replaced."""
        if not self._secrets:
            return text
        encoded = text.encode("utf-8", "surrogatepass")
        cleaned = self.bytes(encoded)
        return text if cleaned is encoded else cleaned.decode("utf-8", "replace")


#: A provider without secrets.
NOTHING = Redactor()


_CREDENTIALS = re.compile(r"(?<=://)([^/@:]*)(:[^/@]*)?@")


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***``, fit for messages, logs and pages."""
    return _CREDENTIALS.sub(lambda m: f"{m.group(1)}{':***' if m.group(2) else ''}@", url, count=1)
