"""Text drawn over rendered frames: the prompt title and the provenance caption."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

__all__ = ["Overlay", "caption_overlay", "ellipsize", "title_overlay", "wrap_text"]

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

_ELLIPSIS = "\u2026"
_TITLE_MAX_LINES = 4


def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


class Overlay:
    """An RGBA patch alpha-composited onto every frame at a fixed position."""

    def __init__(self, patch: Image.Image, position: tuple[int, int]) -> None:
        self.patch = patch.convert("RGBA")
        self.position = position

    def apply(self, frame: Image.Image) -> None:
        """Composite the patch onto ``frame`` in place."""
        frame.paste(self.patch, self.position, self.patch)


def ellipsize(text: str, font: Font, max_width: float) -> str:
    """``text`` shortened with a trailing ellipsis so that it fits ``max_width`` pixels."""
    if font.getlength(text) <= max_width:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(text[:middle].rstrip() + _ELLIPSIS) <= max_width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + _ELLIPSIS


def _split_long_word(word: str, font: Font, max_width: float) -> list[str]:
    pieces: list[str] = []
    piece = ""
    for char in word:
        if piece and font.getlength(piece + char) > max_width:
            pieces.append(piece)
            piece = char
        else:
            piece += char
    if piece:
        pieces.append(piece)
    return pieces


def wrap_text(text: str, font: Font, max_width: float) -> list[str]:
    """Greedy word wrap of ``text`` into lines no wider than ``max_width`` pixels."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        for piece in _split_long_word(word, font, max_width):
            candidate = f"{line} {piece}" if line else piece
            if not line or font.getlength(candidate) <= max_width:
                line = candidate
            else:
                lines.append(line)
                line = piece
    if line:
        lines.append(line)
    return lines


def _line_height(font: Font) -> int:
    top, bottom = font.getbbox("Ag")[1::2]
    return max(1, round((bottom - top) * 1.35))


def title_overlay(prompt: str, width: int, height: int) -> Overlay | None:
    """The prompt, wrapped and centred in large outlined type; None for an empty prompt."""
    if not prompt.strip():
        return None
    max_width = width * 0.84
    largest = max(10, height // 9)
    smallest = max(8, height // 22)
    size = largest
    while True:
        font = _font(size)
        lines = wrap_text(prompt, font, max_width)
        fits = len(lines) <= _TITLE_MAX_LINES and len(lines) * _line_height(font) <= height * 0.55
        if fits or size <= smallest:
            break
        size = max(smallest, int(size * 0.88))
    if len(lines) > _TITLE_MAX_LINES:
        rest = " ".join(lines[_TITLE_MAX_LINES - 1 :])
        lines = [*lines[: _TITLE_MAX_LINES - 1], ellipsize(rest, font, max_width)]
    stroke = max(1, size // 14)
    line_height = _line_height(font)
    pad = stroke + 2
    patch_w = min(width, int(max(font.getlength(line) for line in lines)) + 2 * pad)
    patch_h = min(height, line_height * len(lines) + 2 * pad)
    patch = Image.new("RGBA", (patch_w, patch_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(patch)
    for row, line in enumerate(lines):
        draw.text(
            (patch_w / 2, pad + row * line_height + line_height / 2),
            line,
            font=font,
            fill=(255, 255, 255, 255),
            anchor="mm",
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 210),
        )
    left = (width - patch_w) // 2
    top = max(0, min(height - patch_h, int(height * 0.42) - patch_h // 2))
    return Overlay(patch, (left, top))


def caption_overlay(tag: str, prompt: str | None, width: int, height: int) -> Overlay:
    """A translucent band along the bottom edge with an optional prompt line above ``tag``."""
    tag_font = _font(max(7, height // 30))
    prompt_font = _font(max(8, height // 24))
    margin = max(2, width // 64)
    max_width = width - 2 * margin
    rows: list[tuple[str, Font, tuple[int, int, int, int]]] = []
    if prompt and prompt.strip():
        line = ellipsize(" ".join(prompt.split()), prompt_font, max_width)
        rows.append((line, prompt_font, (255, 255, 255, 255)))
    rows.append((ellipsize(tag, tag_font, max_width), tag_font, (214, 214, 214, 255)))
    heights = [_line_height(font) for _, font, _ in rows]
    pad = max(1, height // 90)
    band_h = min(height, sum(heights) + 2 * pad)
    patch = Image.new("RGBA", (width, band_h), (0, 0, 0, 150))
    draw = ImageDraw.Draw(patch)
    y = pad
    for (text, font, colour), line_height in zip(rows, heights, strict=True):
        draw.text((margin, y + line_height / 2), text, font=font, fill=colour, anchor="lm")
        y += line_height
    return Overlay(patch, (0, height - band_h))
