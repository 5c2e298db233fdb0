"""Which of TensorFlow's CPU kernels compute the reference: Eigen's or oneDNN's.

On Linux x86, TensorFlow 2.21 runs its oneDNN kernels by default when the CPU has AVX512_VNNI,
AVX512_BF16, AVX_VNNI or AMX, and its Eigen kernels elsewhere. The two are different oracles: they
sum in other orders, refuse other calls, and oneDNN has defects of its own (docs/tf-defects.md
lists the backend of each quirk). ``TF_ENABLE_ONEDNN_OPTS`` (``0`` or ``1``), read once when
TensorFlow starts, chooses.

crosscheck's reference is Eigen unless told otherwise, so that a verdict does not depend on the
machine: :func:`choose` sets the variable before TensorFlow is imported (an explicit
``TF_ENABLE_ONEDNN_OPTS`` in the environment is the user's choice and is kept). Where TensorFlow
was imported before crosscheck (a user's test suite, the Python API), nothing can be chosen any
more: :func:`describe` reads the backend in force, and that is what every report says.

    EIGEN, ONEDNN, BACKENDS   the names (``both`` is a run mode of the command, not a backend)
    choose(name)              set the backend of this process and its children before the import
    requested()               the backend the environment asks for
    in_force()                the backend TensorFlow runs (or will run, when not yet imported)
    describe()                {"tensorflow", "backend", "chosen_by", "cpu", "cpu_features"} for reports
"""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

EIGEN, ONEDNN = "eigen", "onednn"
BACKENDS = (EIGEN, ONEDNN)
VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
#: how the backend was chosen, handed down to the processes crosscheck starts (they inherit the choice)
CHOSEN_BY = "CROSSCHECK_TF_BACKEND_CHOSEN_BY"
#: the CPU features for which TensorFlow 2.21 turns oneDNN on by default on Linux (DefaultOneDnnPolicy)
ONEDNN_DEFAULT_FEATURES = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
#: the features a report names (those that decide the default, and the vector width)
REPORTED_FEATURES = ("avx2", "avx512f") + ONEDNN_DEFAULT_FEATURES
_STATE: dict = {}


class BackendError(Exception):
    """A backend that cannot be had in this process (TensorFlow already runs another one)."""


def variable_value(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown TensorFlow backend {name!r}; expected one of {', '.join(BACKENDS)}")
    return "1" if name == ONEDNN else "0"


def requested(environ=None) -> str:
    """The backend ``TF_ENABLE_ONEDNN_OPTS`` asks for; Eigen when it is not set."""
    value = (os.environ if environ is None else environ).get(VARIABLE, "").strip().lower()
    return ONEDNN if value in ("1", "true") else EIGEN


def choose(name: str | None = None, chosen_by: str = "crosscheck's default") -> str:
    """Make ``name`` (default: what the environment asks for, else Eigen) this process's backend,
    inherited by every process it starts. Before TensorFlow is imported this decides; after, it
    raises :class:`BackendError` if TensorFlow runs another backend than the one ``name`` asks for
    (with no ``name``, the backend in force is kept and reported)."""
    explicit = name is not None
    if name is None:
        if os.environ.get(VARIABLE, "").strip():
            name = requested()
            value, _, handed_down = os.environ.get(CHOSEN_BY, "").partition(" ")
            chosen_by = handed_down if value == os.environ[VARIABLE].strip() and handed_down else \
                f"{VARIABLE}={os.environ[VARIABLE].strip()}"
        else:
            name = EIGEN
    value = variable_value(name)
    if "tensorflow" in sys.modules:
        actual = in_force()
        if not explicit and not os.environ.get(VARIABLE, "").strip():   # imported first: reported, not chosen
            _STATE["chosen_by"] = "TensorFlow's own default here (imported before crosscheck)"
            return actual
        if actual != name:
            raise BackendError(f"TensorFlow was imported before crosscheck and runs its {actual} kernels; "
                               f"the {name} backend needs {VARIABLE}={value} set before TensorFlow is imported")
    os.environ[VARIABLE] = value
    _STATE["chosen_by"] = chosen_by
    os.environ[CHOSEN_BY] = f"{value} {chosen_by}"   # valid while the variable keeps this value
    return name


def chosen() -> bool:
    """Whether :func:`choose` ran in this process."""
    return "chosen_by" in _STATE


def default_on_this_cpu() -> str:
    """The backend TensorFlow picks by itself here (Linux x86: oneDNN on AVX-512 VNNI / AMX-class CPUs)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return EIGEN
    return ONEDNN if set(ONEDNN_DEFAULT_FEATURES) & set(cpu_flags()) else EIGEN


def in_force() -> str:
    """The backend TensorFlow runs in this process, or will run once imported (nothing is imported here)."""
    if "in_force" in _STATE:
        return _STATE["in_force"]
    if "tensorflow" not in sys.modules:
        return requested() if os.environ.get(VARIABLE, "").strip() else default_on_this_cpu()
    from tensorflow.python.util import _pywrap_util_port  # deferred: imports TensorFlow
    _STATE["in_force"] = ONEDNN if _pywrap_util_port.IsMklEnabled() else EIGEN   # fixed once TensorFlow started
    return _STATE["in_force"]


def cpu_flags() -> list[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere)."""
    if "flags" not in _STATE:
        flags: list[str] = []
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("flags"):
                        flags = line.split(":", 1)[1].split()
                        break
        except OSError:
            pass
        _STATE["flags"] = flags
    return _STATE["flags"]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def installed_version() -> str:
    """TensorFlow's version without importing it (a process that leaves TensorFlow to its workers)."""
    for dist in ("tensorflow-cpu", "tensorflow", "tensorflow-intel"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "(not installed)"


def describe() -> dict:
    """What a report says about its oracle: TensorFlow's version, the backend in force, how it was
    chosen, the CPU and its features that matter. Imports nothing: call it where TensorFlow runs."""
    tf = sys.modules.get("tensorflow")
    flags = set(cpu_flags())
    return {"tensorflow": getattr(tf, "__version__", None) or installed_version(), "backend": in_force(),
            "chosen_by": _STATE.get("chosen_by") or (f"{VARIABLE}={os.environ[VARIABLE]}" if os.environ.get(VARIABLE)
                                                    else "TensorFlow's own default here (imported before crosscheck)"),
            "default_here": default_on_this_cpu(), "cpu": cpu_model(),
            "cpu_features": [f for f in REPORTED_FEATURES if f in flags]}


def one_line(info: dict) -> str:
    """``TensorFlow 2.21.0, eigen kernels (crosscheck's default; oneDNN is TensorFlow's default here), CPU ...``"""
    default = info.get("default_here")
    note = f"; TensorFlow's own default here is {default}" if default and default != info.get("backend") else ""
    features = ", ".join(info.get("cpu_features") or []) or "none of AVX-512/VNNI/AMX"
    return (f"TensorFlow {info.get('tensorflow')}, {info.get('backend')} kernels ({info.get('chosen_by')}{note}); "
            f"CPU {info.get('cpu')} [{features}]")
