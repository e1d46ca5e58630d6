"""Access policy: roles -> allowed tags, and glob rules -> a document's tags.

File format (YAML, see tags.yaml in the shared corpus)::

    version: 1
    tag_vocabulary: {tag: description, ...}
    roles: {role: {allow: [tag, ...] or ["*"]}, ...}
    rules: [{glob: "routing/**", tags: [configs]}, ...]   # first match wins
    front_matter_tags: [faq, ...]   # tags a document's front matter may add (default none)

Glob syntax: ``*`` matches within one path segment, ``**`` any number of segments.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from netdocs.errors import AccessDenied, ConfigError
from netdocs.strict_yaml import StrictYAMLError, load_strict

WILDCARD = "*"


@lru_cache(maxsize=1024)
def glob_to_regex(glob: str) -> re.Pattern[str]:
    """Compile a gitignore-style glob ("*" one segment, "**" any segments) to a regex."""
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif glob.startswith("**", i):
            out.append("(?s:.*)")  # a file name may hold a newline: "." must match it
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(glob: str, path: str) -> bool:
    """True when the POSIX relative ``path`` matches ``glob``."""
    return glob_to_regex(glob).match(path) is not None


@dataclass(frozen=True)
class Rule:
    """One path rule: files matching ``glob`` get ``tags``."""

    glob: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """A loaded access policy."""

    vocabulary: frozenset[str]
    roles: dict[str, frozenset[str]]  # role -> allowed tags ("*" = everything)
    rules: tuple[Rule, ...]
    source: str = "<memory>"
    #: Tags a document's front matter may add; any other front-matter tag is ignored.
    front_matter_tags: frozenset[str] = frozenset()
    #: The policy file's text as read (what the index stores), "" when built in memory.
    content: str = field(default="", compare=False)

    @property
    def sha256(self) -> str:
        """The sha256 of ``content`` (the stored policy's identity)."""
        return hashlib.sha256(self.content.encode("utf-8")).hexdigest()

    @property
    def role_names(self) -> list[str]:
        """The roles this policy defines, sorted."""
        return sorted(self.roles)

    def document_tags(
        self, doc_id: str, declared: tuple[str, ...] | list[str] = ()
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(tags, ignored): the rule tags of ``doc_id`` plus the front-matter tags
        ``declared`` that ``front_matter_tags`` allows; ``ignored`` are the others."""
        allowed = [t for t in declared if t in self.front_matter_tags]
        ignored = tuple(sorted({t for t in declared if t not in self.front_matter_tags}))
        return tuple(sorted(set(self.tags_for(doc_id)) | set(allowed))), ignored

    def tags_for(self, doc_id: str) -> tuple[str, ...]:
        """The tags of the first rule matching ``doc_id`` (empty when none matches)."""
        m = self._rules_regex.match(doc_id)
        return self.rules[int(m.lastgroup[1:])].tags if m and m.lastgroup else ()

    @cached_property
    def _rules_regex(self) -> re.Pattern[str]:
        """Every rule's glob in one alternation, in order (the first that matches wins)."""
        parts = (f"(?P<r{i}>{glob_to_regex(r.glob).pattern})" for i, r in enumerate(self.rules))
        return re.compile("|".join(parts) or r"(?!)")

    def allowed_tags(self, role: str | None) -> frozenset[str] | None:
        """The tags ``role`` may see; None means unrestricted. Unknown role -> AccessDenied."""
        if role is None or role not in self.roles:
            known = ", ".join(sorted(self.roles))
            what = "no role given" if role is None else f"unknown role {role!r}"
            where = self.source
            if not where.startswith("the policy"):
                where = f"the policy {where}"
            raise AccessDenied(f"{what}; {where} defines: {known}")
        allowed = self.roles[role]
        return None if WILDCARD in allowed else allowed


def _fail(source: str, field: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {field}: {problem}")


_KEYS = {
    "<top level>": {"version", "tag_vocabulary", "roles", "rules", "front_matter_tags"},
    "role": {"allow"},
    "rule": {"glob", "tags"},
}


def _check_keys(source: str, field: str, kind: str, data: dict[object, object]) -> None:
    """A key this parser would ignore (``deny:``, a typo) could be meant to limit access:
    refused, naming it, rather than read as if absent."""
    unknown = sorted(str(k) for k in data if k not in _KEYS[kind])
    if unknown:
        known = ", ".join(sorted(_KEYS[kind]))
        raise _fail(source, field, f"unknown key(s) {unknown} (a {kind} has: {known})")


def _check_glob(source: str, field: str, raw: str) -> str:
    """A rule's glob, relative to the docs root (``./`` dropped, ``dir/`` -> ``dir/**``);
    a glob that could never match a document's path is an error, not a silent no-op."""
    glob = raw
    while glob.startswith("./"):
        glob = glob[2:]
    if glob.startswith(("/", "~")) or re.match(r"[A-Za-z]:", glob):
        raise _fail(source, field, f"{raw!r}: globs are relative to the docs root")
    if "\\" in glob:
        raise _fail(source, field, f"{raw!r}: use '/' between folders")
    parts = glob.split("/")
    if not glob or ".." in parts or "." in parts or "" in parts[:-1]:
        raise _fail(source, field, f"{raw!r}: can never match a path inside the docs root")
    return glob + "**" if glob.endswith("/") else glob


def _check_tags(source: str, field: str, tags: list[object]) -> None:
    """Tags are non-empty strings, never "*" (which means "every tag" in an allow list)."""
    for t in tags:
        if not isinstance(t, str) or not t:
            raise _fail(source, field, f"tag {t!r}: expected a non-empty string")
        if t == WILDCARD:
            raise _fail(source, field, '"*" is not a tag (only an allow list may use it)')


def parse_policy(data: object, source: str = "<memory>", content: str = "") -> Policy:
    """Validate a parsed YAML document and build a Policy; errors name the field.

    ``content`` is the text ``data`` was parsed from (kept so the index can store it)."""
    if not isinstance(data, dict):
        raise _fail(source, "<top level>", "expected a mapping with roles and rules")
    _check_keys(source, "<top level>", "<top level>", data)
    if data.get("version", 1) not in (1, "1"):
        raise _fail(source, "version", f"{data.get('version')!r}: only version 1 is known")
    vocab_raw = data.get("tag_vocabulary") or {}
    if not isinstance(vocab_raw, dict | list):
        raise _fail(source, "tag_vocabulary", "expected a mapping or a list of tags")
    _check_tags(source, "tag_vocabulary", list(vocab_raw))
    vocabulary = frozenset(vocab_raw)
    roles_raw = data.get("roles")
    if not isinstance(roles_raw, dict) or not roles_raw:
        raise _fail(source, "roles", "expected a non-empty mapping of role -> {allow: [...]}")
    roles: dict[str, frozenset[str]] = {}
    for name, spec in roles_raw.items():
        if not isinstance(name, str) or not name:
            raise _fail(source, f"roles.{name!r}", "a role name must be a non-empty string")
        if isinstance(spec, dict):
            _check_keys(source, f"roles.{name}", "role", spec)
        allow = spec.get("allow") if isinstance(spec, dict) else None
        if not isinstance(allow, list) or not all(isinstance(t, str) for t in allow):
            raise _fail(source, f"roles.{name}.allow", "expected a list of tag names")
        if WILDCARD in allow and len(allow) > 1:
            raise _fail(source, f"roles.{name}.allow", '"*" (everything) must stand alone')
        unknown = [t for t in allow if t != WILDCARD and vocabulary and t not in vocabulary]
        if unknown:
            raise _fail(source, f"roles.{name}.allow", f"tags not in tag_vocabulary: {unknown}")
        roles[name] = frozenset(allow)
    rules_raw = data.get("rules") or []
    if not isinstance(rules_raw, list):
        raise _fail(source, "rules", "expected a list of {glob, tags}")
    rules = []
    for i, item in enumerate(rules_raw):
        if isinstance(item, dict):
            _check_keys(source, f"rules[{i}]", "rule", item)
        glob = item.get("glob") if isinstance(item, dict) else None
        tags = item.get("tags") if isinstance(item, dict) else None
        if not isinstance(glob, str) or not glob:
            raise _fail(source, f"rules[{i}].glob", "expected a non-empty string")
        glob = _check_glob(source, f"rules[{i}].glob", glob)
        if not isinstance(tags, list):
            raise _fail(source, f"rules[{i}].tags", "expected a list of tag names")
        _check_tags(source, f"rules[{i}].tags", tags)
        unknown = [t for t in tags if vocabulary and t not in vocabulary]
        if unknown:
            raise _fail(source, f"rules[{i}].tags", f"tags not in tag_vocabulary: {unknown}")
        rules.append(Rule(glob, tuple(tags)))
    fm_raw = data.get("front_matter_tags") or []
    if not isinstance(fm_raw, list):
        raise _fail(source, "front_matter_tags", "expected a list of tag names")
    _check_tags(source, "front_matter_tags", fm_raw)
    unknown = [t for t in fm_raw if vocabulary and t not in vocabulary]
    if unknown:
        raise _fail(source, "front_matter_tags", f"tags not in tag_vocabulary: {unknown}")
    return Policy(vocabulary, roles, tuple(rules), source, frozenset(fm_raw), content)


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the policy file: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: the policy file is not UTF-8 (byte {e.start})") from None
    return policy_from_text(text, str(path))


def policy_from_text(text: str, source: str) -> Policy:
    """Parse and validate a policy's YAML text (a file's, or the copy stored in the index)."""
    try:  # no duplicate keys, anchors or aliases (libyaml's parser when present)
        data = load_strict(text)
    except StrictYAMLError as e:
        raise ConfigError(f"{source}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: invalid YAML: {e}") from None
    return parse_policy(data, source, text)


def visible(doc_tags: tuple[str, ...] | list[str], allowed: frozenset[str] | None) -> bool:
    """The rule the SQL filter implements: visible when any tag is allowed (None = all)."""
    return allowed is None or bool(set(doc_tags) & allowed)
