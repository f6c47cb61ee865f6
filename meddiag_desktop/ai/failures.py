"""One readable line for a plugin failure: the innermost error, not MONAI's wrapper around it.

MONAI wraps every error raised while a config item is built or evaluated
("Failed to evaluate ConfigExpression...", "Component to instantiate must
represent a valid class...") and chains the real one. :func:`root_cause`
follows ``__cause__``/``__context__`` down to it; :func:`describe_failure` adds
what the user can do for the common cases. The full traceback goes to the log.
"""

from __future__ import annotations

import re

from meddiag_desktop.ai.errors import AI_EXTRA_HINT

__all__ = ["root_cause", "describe_failure"]

#: packages of the 'ai' extra: missing, the message says to install it
_AI_EXTRA = {"torch", "monai", "safetensors", "ignite"}

_WRAPPER_TEXT = ("failed to evaluate", "component to instantiate", "failed to instantiate")


def _is_wrapper(err: BaseException) -> bool:
    return any(w in str(err).lower() for w in _WRAPPER_TEXT)


def root_cause(err: BaseException) -> BaseException:
    """The innermost exception of ``err``'s chain.

    Explicit causes (``raise ... from e``, as MONAI wraps) are followed; an
    implicit context only below one of MONAI's wrappers, so that an error raised
    on purpose while handling another (a refusal inside ``except``) stays the one shown.
    """
    seen = {id(err)}
    cur = err
    while True:
        nxt = cur.__cause__
        if nxt is None and _is_wrapper(cur) and not cur.__suppress_context__:
            nxt = cur.__context__
        if nxt is None or id(nxt) in seen:
            return cur
        seen.add(id(nxt))
        cur = nxt


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def describe_failure(err: BaseException) -> tuple[str, str]:
    """``(kind, message)``: the root cause's type name and one line saying what went wrong and what to do."""
    root = root_cause(err)
    kind = type(root).__name__
    text = _first_line(str(root)) or kind
    if kind == "OptionalImportError":  # MONAI's optional_import: "import torchvision (No module named ...)"
        m = re.search(r"import (\S+)", text)
        name = m.group(1).split(".")[0] if m else ""
        if name:
            return "ModuleNotFoundError", f"No module named '{name}' (the bundle needs {name}, which is not installed)"
    if isinstance(root, ModuleNotFoundError) and getattr(root, "name", None):
        top = root.name.split(".")[0]
        if top in _AI_EXTRA:
            return kind, f"{text} (AI plugins need {top}; {AI_EXTRA_HINT})"
        return kind, f"{text} (the bundle needs {top}, which is not installed)"
    if isinstance(root, FileNotFoundError) and getattr(root, "filename", None):
        return kind, f"the bundle reads {root.filename}, which does not exist ({_first_line(root.strerror or text)})"
    if "deserialize object on a cuda device" in text.lower() or "torch not compiled with cuda" in text.lower():
        return kind, f"{text} (this bundle's config asks for a CUDA GPU; it cannot run on this computer's CPU)"
    return kind, text
