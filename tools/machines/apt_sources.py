"""Find the Debian mirror this machine's own apt configuration uses.

Pure: takes the texts of the apt source files (one-line ``.list`` and deb822 ``.sources``)
and returns the mirror serving a suite.  The image is built from that mirror, so a
machine behind a local mirror or proxy builds from the same place apt does.
"""

from __future__ import annotations

from dataclasses import dataclass


class NoMirrorError(LookupError):
    """No enabled ``deb`` source serves the suite."""


@dataclass(frozen=True)
class Source:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    keyring: str | None = None


def _one_line_sources(text: str) -> list[Source]:
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        words = line.split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        keyring = None
        if words and words[0].startswith("["):
            options = []
            while words:
                word = words.pop(0)
                options.append(word)
                if word.endswith("]"):
                    break
            for option in " ".join(options).strip("[]").split():
                key, _, value = option.partition("=")
                if key == "signed-by":
                    keyring = value
        if len(words) >= 2:
            sources.append(Source(words[0], (words[1],), tuple(words[2:]), keyring))
    return sources


def _deb822_sources(text: str) -> list[Source]:
    sources = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
                continue
            key, sep, value = line.partition(":")
            if not sep:
                key = None
                continue
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        keyring = fields.get("signed-by")
        if keyring and "\n" in keyring:
            keyring = None  # an inline key block, not a file debootstrap could use
        for uri in fields.get("uris", "").split():
            sources.append(
                Source(
                    uri,
                    tuple(fields.get("suites", "").split()),
                    tuple(fields.get("components", "").split()),
                    keyring,
                )
            )
    return sources


def parse(files: dict[str, str]) -> list[Source]:
    """Every enabled ``deb`` source in ``files`` (file name -> text), in file order."""
    sources: list[Source] = []
    for name, text in files.items():
        if name.endswith(".sources"):
            sources += _deb822_sources(text)
        elif name.endswith(".list"):
            sources += _one_line_sources(text)
    return sources


def mirror_for(files: dict[str, str], suite: str) -> Source:
    """The first enabled source carrying ``suite`` itself (not ``suite-security``...)
    with the ``main`` component."""
    for source in parse(files):
        if suite in source.suites and "main" in source.components:
            return source
    names = ", ".join(files) or "no files"
    raise NoMirrorError(
        f"no enabled 'deb' source for {suite} main in the apt configuration ({names}); "
        f"add one (e.g. to /etc/apt/sources.list.d/) so the image can be built"
    )
