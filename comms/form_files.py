"""What a patient may upload to a form: the file's own first bytes decide its type, not what the
browser says, so a renamed executable is refused as clearly as an oversized photo."""

from __future__ import annotations

# Types staff can open in a browser; HEIC is what iPhones take photos in.
FILE_TYPES = {
    "image/jpeg": "JPEG photo",
    "image/png": "PNG image",
    "image/webp": "WebP image",
    "image/heic": "HEIC photo",
    "application/pdf": "PDF",
}
SIGNATURE_TYPE = "image/png"  # the page's canvas, as PNG


def sniff(data: bytes) -> str | None:
    """The type these bytes really are, among the ones we accept; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
        return "image/heic"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def refusal(kind: str, data: bytes, limit: int) -> str | None:
    """Why this upload cannot be kept (for the patient), or None when it can."""
    if not data:
        return "The file is empty."
    if len(data) > limit:
        return f"The file is too large: the limit is {limit // (1024 * 1024)} MB."
    found = sniff(data)
    if kind == "signature":
        return None if found == SIGNATURE_TYPE else "The signature could not be read. Please sign again."
    if found is None:
        return "This type of file cannot be uploaded. Please use a photo (JPEG, PNG, HEIC) or a PDF."
    return None
