"""What the SDK's ``log_*`` calls write: images, histograms, curves, confusion matrices...

Each helper turns what a training script holds (a PIL image, a numpy array, a list, a
pandas DataFrame, a plotly figure, a path) into bytes and a file extension, with no
hard dependency: numpy, PIL, pandas and plotly are used when the value is one of theirs,
recognised by what it can do, never imported here. Everything structured is JSON, so the
API, the CLI and the web UI read it without the library that made it.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class MediaError(ValueError):
    """The value cannot be logged as asked; the message says what would do."""


def _nested(value: Any) -> Any:
    """A numpy array (or anything with ``tolist``) as nested lists; lists as they are."""
    return value.tolist() if hasattr(value, "tolist") else value


def _numbers(name: str, values: Any) -> list[float]:
    flat: list[float] = []

    def walk(item: Any) -> None:
        if isinstance(item, list | tuple):
            for inner in item:
                walk(inner)
            return
        try:
            number = float(item)
        except (TypeError, ValueError):
            raise MediaError(f"{name}: {item!r} is not a number") from None
        if math.isfinite(number):
            flat.append(number)

    walk(_nested(values))
    return flat


# ------------------------------------------------------------------------------ images
def _png(rows: list[list[Any]]) -> bytes:
    """A PNG of 8-bit pixels: ``rows`` of pixels, each a number (grey) or a list of 3
    (RGB) or 4 (RGBA) numbers from 0 to 255."""
    height, width = len(rows), len(rows[0])
    first = rows[0][0]
    channels = len(first) if isinstance(first, list | tuple) else 1
    color_type = {1: 0, 3: 2, 4: 6}.get(channels)
    if color_type is None:
        raise MediaError(f"an image needs 1, 3 or 4 channels per pixel, not {channels}")
    raw = bytearray()
    for row in rows:
        if len(row) != width:
            raise MediaError("the image's rows are not all as long")
        raw.append(0)
        for pixel in row:
            values = pixel if channels > 1 else (pixel,)
            # clipped to 0..255; a value that is not finite is black
            raw.extend(max(0, min(255, int(round(v)))) if math.isfinite(v) else 0 for v in values)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b""))


def image_bytes(image: Any) -> tuple[bytes, str]:
    """An image and its extension: a path to an image file, a PIL image, or pixels (a
    numpy array or nested lists, height x width [x 1, 3 or 4 channels]; whole numbers
    from 0 to 255, or floats from 0 to 1)."""
    if isinstance(image, str | Path):
        path = Path(image)
        if not path.is_file():
            raise MediaError(f"{path}: no such image file")
        return path.read_bytes(), path.suffix.lstrip(".").lower() or "png"
    if hasattr(image, "save") and hasattr(image, "mode"):  # a PIL image
        import io

        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue(), "png"
    # floats are from 0 to 1: a numpy array's dtype says so, else a float among the values
    kind = getattr(getattr(image, "dtype", None), "kind", None)
    rows = _nested(image)
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], list) or not rows[0]:
        raise MediaError("log an image as a file path, a PIL image, or pixels: a numpy array "
                         "or nested lists, height x width [x channels]")
    if isinstance(rows[0][0], list) and len(rows[0][0]) == 1:
        rows = [[pixel[0] for pixel in row] for row in rows]
    _numbers("image", rows)  # every value a number, or a MediaError naming the first that is not
    floats = kind == "f" if kind is not None else any(
        isinstance(value, float) for row in rows for pixel in row
        for value in (pixel if isinstance(pixel, list) else (pixel,)))
    if floats:
        rows = [[[c * 255.0 for c in p] if isinstance(p, list) else p * 255.0 for p in row]
                for row in rows]
    return _png(rows), "png"


# -------------------------------------------------------------------------- histograms
def histogram(values: Any, bins: int | Sequence[float] = 10) -> dict[str, Any]:
    """``{"edges": [...], "counts": [...]}`` of ``values`` (numbers, any nesting): ``bins``
    equal bins between the smallest and largest value, or the given edges."""
    numbers = _numbers("histogram", values)
    if not numbers:
        raise MediaError("a histogram needs at least one finite number")
    if isinstance(bins, int):
        if bins < 1:
            raise MediaError(f"bins must be at least 1, got {bins}")
        low, high = min(numbers), max(numbers)
        if low == high:
            low, high = low - 0.5, high + 0.5
        width = (high - low) / bins
        edges = [low + width * i for i in range(bins)] + [high]
    else:
        edges = [float(edge) for edge in bins]
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise MediaError("bins given as edges must be at least two increasing numbers")
    counts = [0] * (len(edges) - 1)
    import bisect

    for number in numbers:
        if number < edges[0] or number > edges[-1]:
            continue
        index = min(bisect.bisect_right(edges, number) - 1, len(counts) - 1)
        counts[index] += 1
    return {"edges": edges, "counts": counts}


# ---------------------------------------------------------------------------- curves
def curve(x: Any, y: Any, annotation: str | None = None) -> dict[str, Any]:
    xs, ys = _numbers("x", x), _numbers("y", y)
    if len(xs) != len(ys) or not xs:
        raise MediaError(f"a curve needs as many x as y values, at least one (got {len(xs)} "
                         f"and {len(ys)})")
    return {"x": xs, "y": ys, "annotation": annotation}


def _auc(xs: list[float], ys: list[float]) -> float:
    """The area under a curve by the trapezoidal rule, x in the order given."""
    return abs(sum((b - a) * (c + d) / 2 for a, b, c, d in zip(xs, xs[1:], ys, ys[1:], strict=False)))


def _labels(y_true: Any, y_score: Any) -> tuple[list[float], list[float]]:
    truth, scores = _numbers("y_true", y_true), _numbers("y_score", y_score)
    if len(truth) != len(scores) or not truth:
        raise MediaError("y_true and y_score need the same number of values, at least one")
    if set(truth) - {0.0, 1.0}:
        raise MediaError("y_true holds the true classes of a binary problem: 0 or 1")
    return truth, scores


def roc_curve(y_true: Any, y_score: Any) -> dict[str, Any]:
    """The ROC curve of a binary classifier (false positive rate, true positive rate at
    each distinct score, highest first) and its area."""
    truth, scores = _labels(y_true, y_score)
    positives = sum(truth)
    negatives = len(truth) - positives
    if not positives or not negatives:
        raise MediaError("a ROC curve needs both classes in y_true")
    pairs = sorted(zip(scores, truth, strict=True), reverse=True)
    fpr, tpr = [0.0], [0.0]
    tp = fp = 0.0
    for index, (score, label) in enumerate(pairs):
        tp += label
        fp += 1 - label
        if index == len(pairs) - 1 or pairs[index + 1][0] != score:
            fpr.append(fp / negatives)
            tpr.append(tp / positives)
    return {"x": fpr, "y": tpr, "annotation": f"AUC {_auc(fpr, tpr):.4f}", "auc": _auc(fpr, tpr),
            "kind": "roc"}


def pr_curve(y_true: Any, y_score: Any) -> dict[str, Any]:
    """The precision-recall curve of a binary classifier and its average precision."""
    truth, scores = _labels(y_true, y_score)
    positives = sum(truth)
    if not positives:
        raise MediaError("a precision-recall curve needs positives in y_true")
    pairs = sorted(zip(scores, truth, strict=True), reverse=True)
    recall, precision = [0.0], [1.0]
    tp = 0.0
    average = 0.0
    for index, (score, label) in enumerate(pairs):
        tp += label
        if index == len(pairs) - 1 or pairs[index + 1][0] != score:
            r, p = tp / positives, tp / (index + 1)
            average += (r - recall[-1]) * p
            recall.append(r)
            precision.append(p)
    return {"x": recall, "y": precision, "annotation": f"AP {average:.4f}",
            "average_precision": average, "kind": "pr"}


def confusion_matrix(x: Sequence[Any], y: Sequence[Any], z: Any) -> dict[str, Any]:
    """``x`` the predicted labels, ``y`` the true ones, ``z[i][j]`` the count of true
    ``y[i]`` predicted ``x[j]``."""
    rows = _nested(z)
    if (not isinstance(rows, list) or len(rows) != len(y)
            or any(not isinstance(row, list) or len(row) != len(x) for row in rows)):
        raise MediaError(f"z must be a matrix of {len(y)} rows (y) of {len(x)} values (x)")
    return {"x": [str(label) for label in x], "y": [str(label) for label in y],
            "z": [_numbers("z", row) for row in rows]}


def plotly_figure(figure: Any) -> dict[str, Any]:
    """A plotly figure (or its dict) as its JSON object."""
    if hasattr(figure, "to_plotly_json"):
        figure = json.loads(figure.to_json()) if hasattr(figure, "to_json") else figure.to_plotly_json()
    if not isinstance(figure, dict) or "data" not in figure:
        raise MediaError("log a plotly figure, or its dict with `data` (and `layout`)")
    return figure


def dataframe_bytes(frame: Any, content_type: str) -> tuple[bytes, dict[str, Any]]:
    """A pandas DataFrame (anything with ``to_csv`` / ``to_json``) as CSV or JSON, with
    its shape."""
    summary: dict[str, Any] = {}
    shape = getattr(frame, "shape", None)
    if shape is not None and len(shape) == 2:
        summary = {"rows": int(shape[0]), "columns": int(shape[1])}
    if content_type == "csv" and hasattr(frame, "to_csv"):
        return frame.to_csv(index=False).encode(), summary
    if content_type == "json" and hasattr(frame, "to_json"):
        return frame.to_json(orient="records").encode(), summary
    raise MediaError(f"log a DataFrame (something with to_{content_type}) as csv or json")
