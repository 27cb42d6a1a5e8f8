"""What a user's turn is made of besides its text: attachments, forwarded messages, and the
message it replies to.

Discord turns a long paste into a `message.txt` attachment, and people share code as files; both
should reach the model. Binary files and very large ones are named but not read. A forwarded
message arrives with empty content (its text is in a snapshot), and a reply to a message outside
the conversation would lose its point without that message: both are quoted into the turn.
"""

from __future__ import annotations

from pathlib import PurePath

MAX_BYTES = 200_000  # larger files are mentioned, not read (the builder would cut them anyway)
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml")
LANGUAGES = {
    ".py": "python", ".js": "js", ".ts": "ts", ".json": "json", ".md": "markdown", ".sh": "sh",
    ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".rs": "rust", ".go": "go", ".java": "java",
    ".c": "c", ".h": "c", ".cpp": "cpp", ".cs": "cs", ".rb": "ruby", ".sql": "sql", ".html": "html",
    ".css": "css", ".xml": "xml", ".ini": "ini", ".log": "", ".txt": "", ".csv": "",
}  # fmt: skip


def is_text(filename: str, content_type: str | None) -> bool:
    if content_type and content_type.split(";")[0].strip().startswith(TEXT_TYPES):
        return True
    return PurePath(filename).suffix.lower() in LANGUAGES


def should_read(filename: str, content_type: str | None, size: int) -> bool:
    return size <= MAX_BYTES and is_text(filename, content_type)


def render(filename: str, data: bytes | None) -> str:
    """How an attachment appears in the turn: its text in a code block, or just its name."""
    if data is None:
        return f"[attached file: {filename} (not read)]"
    text = data.decode("utf-8", errors="replace").strip("\n")
    language = LANGUAGES.get(PurePath(filename).suffix.lower(), "")
    fence = "````" if "```" in text else "```"
    return f"[attached file: {filename}]\n{fence}{language}\n{text}\n{fence}"


def with_attachments(text: str, rendered: list[str]) -> str:
    return "\n\n".join(part for part in (text, *rendered) if part)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.strip().splitlines()) or "> (no text)"


def replying_to(author: str, text: str) -> str:
    return f"[replying to {author}]\n{_quote(text)}"


def forwarded(text: str) -> str:
    return f"[forwarded message]\n{_quote(text)}"


def image(filename: str, *, readable: bool) -> str:
    """An image's place in the turn's text (the image itself goes to vision models apart)."""
    return (
        f"[attached image: {filename}]"
        if readable
        else f"[attached image: {filename} (not readable)]"
    )
