"""Verdicts of the official Polyaxon client on polyaxonfiles, in one process.

Run with the official client's interpreter (``.venv-official/bin/python``): for each path
given it calls the function behind ``polyaxon check -f PATH`` and prints one JSON object
``{path: {"valid": bool, "error": str | null}}``. Starting the official CLI once per file
costs about two seconds each; this keeps the agreement test fast.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys


def verdict(path: str) -> dict[str, object]:
    from polyaxon._polyaxonfile.check import check_polyaxonfile

    # The official client prints warnings (e.g. about `version`) on stdout; only our JSON
    # may go there.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            check_polyaxonfile(polyaxonfile=path, is_cli=False, verbose=False)
        except Exception as exc:  # noqa: BLE001 - any failure is the client's "invalid"
            reasons = []
            current: BaseException | None = exc
            while current is not None:
                reasons.append(f"{type(current).__name__}: {current}")
                current = current.__cause__ or current.__context__
            return {"valid": False, "error": " <- ".join(reasons)}
    return {"valid": True, "error": None}


if __name__ == "__main__":
    print(json.dumps({path: verdict(path) for path in sys.argv[1:]}))
