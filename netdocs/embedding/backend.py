"""Which runtime runs the local model: OpenVINO (bf16 where the CPU has bf16 units) or
onnxruntime (fp32 or int8).

``auto`` picks OpenVINO in bf16 when the CPU has AMX or AVX512-BF16 and the ``openvino``
package imports; otherwise onnxruntime, which on this class of CPU runs fp32 about 2.5x
faster than OpenVINO in f32 (measured; see README). Both read an ONNX graph netdocs builds
from the same weights, and bf16 vectors stay within cosine 0.9999 of fp32, so the model id
does not depend on the backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from netdocs.errors import ConfigError

log = logging.getLogger(__name__)

BackendName = Literal["auto", "openvino", "onnxruntime"]
InferencePrecision = Literal["bf16", "f32"]
#: CPU flags (Linux /proc/cpuinfo names) of bf16 matrix/vector units OpenVINO uses.
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class BackendChoice:
    """The resolved backend; ``precision`` is OpenVINO's inference precision (else None)."""

    backend: Literal["openvino", "onnxruntime"]
    precision: InferencePrecision | None
    reason: str


def read_cpu_flags(path: Path = CPUINFO) -> frozenset[str] | None:
    """The CPU's feature flags from ``/proc/cpuinfo``; None where there is no such file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return None


def openvino_available() -> bool:
    """True when the ``openvino`` package imports."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def _openvino_reports_bf16() -> bool:
    """OpenVINO's own view (used where ``/proc/cpuinfo`` is not available)."""
    import openvino as ov

    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "BF16" in caps


def choose_backend(
    requested: BackendName,
    precision: Literal["fp32", "int8"],
    *,
    cpu_flags: Callable[[], frozenset[str] | None] | None = None,
    has_openvino: Callable[[], bool] | None = None,
) -> BackendChoice:
    """Resolve ``NETDOCS_LOCAL_BACKEND`` (``auto``/``openvino``/``onnxruntime``).

    ``cpu_flags`` and ``has_openvino`` default to :func:`read_cpu_flags` and
    :func:`openvino_available`. Raises ConfigError when ``openvino`` is requested
    explicitly but cannot be used.
    """
    cpu_flags = cpu_flags or read_cpu_flags
    has_openvino = has_openvino or openvino_available
    if requested == "onnxruntime":
        return BackendChoice("onnxruntime", None, "requested")
    if precision == "int8":  # OpenVINO cannot read onnxruntime's quantised graph
        if requested == "openvino":
            raise ConfigError(
                "NETDOCS_LOCAL_BACKEND=openvino does not run NETDOCS_LOCAL_PRECISION=int8 "
                "(an onnxruntime-quantised graph); use fp32 or NETDOCS_LOCAL_BACKEND=onnxruntime"
            )
        return BackendChoice("onnxruntime", None, "int8 runs on onnxruntime")
    if not has_openvino():
        if requested == "openvino":
            raise ConfigError(
                "NETDOCS_LOCAL_BACKEND=openvino but the openvino package does not import "
                "(pip install openvino)"
            )
        return BackendChoice("onnxruntime", None, "openvino not installed")
    flags = cpu_flags()
    bf16 = bool(flags & BF16_FLAGS) if flags is not None else _openvino_reports_bf16()
    if bf16:
        return BackendChoice("openvino", "bf16", "CPU has bf16 units")
    if requested == "openvino":
        return BackendChoice("openvino", "f32", "requested; CPU has no bf16 units")
    return BackendChoice(
        "onnxruntime", None, "CPU has no bf16 units; onnxruntime is faster in fp32"
    )
