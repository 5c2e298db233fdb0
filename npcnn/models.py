"""``Sequential``: a stack of npcnn layers with Keras's training loop (fit / evaluate / predict).

The model owns no autodiff: ``forward`` runs each layer's forward, ``backward`` each layer's
backward in reverse, and the optimizer updates the layers' ``params`` in place from their ``grads``.
Parameters are named ``"<layer name>/<weight name>"`` (``"conv2d/kernel"``), in Keras's order.
"""
from __future__ import annotations

import io
import json
import math
import os
import time
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import layers as L
from . import losses as losses_mod
from . import optimizers as optimizers_mod
from ._checks import FLOAT_DTYPES, as_array, flag_arg, float_dtype, int_arg, is_int, shown
from ._typing import ArrayLike, DTypeLike, Shape
from .saved_model import check_config, read_archive

FORMAT_VERSION = 1


class History:
    """What ``fit`` returns: ``history`` maps "loss", "accuracy", "val_loss", "val_accuracy" to per-epoch lists."""
    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _accuracy(y_true: ArrayLike, y_pred: np.ndarray, loss: losses_mod.Loss) -> float:
    """Keras's "accuracy" for the compiled loss: sparse labels, one-hot labels, or binary outputs."""
    y_true = np.asarray(y_true)
    if isinstance(loss, losses_mod.SparseCategoricalCrossentropy):
        labels = y_true.reshape(y_pred.shape[:-1])
        return float(np.mean(np.argmax(y_pred, axis=-1) == labels))
    if isinstance(loss, losses_mod.CategoricalCrossentropy) or y_pred.shape[-1] > 1:
        return float(np.mean(np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)))
    return float(np.mean((y_pred > 0.5) == (y_true > 0.5)))


class Sequential:
    """A linear stack of layers, as ``keras.Sequential``.

    ``build(input_shape, dtype="float32", seed=0)`` builds every layer (``input_shape`` with the
    batch axis, e.g. ``(None, 8, 8, 1)``); layer ``i`` draws its weights from a seed derived from
    ``seed``. Inputs must have the model's dtype; ``fit``/``evaluate``/``predict`` cast the data to it.
    """
    def __init__(self, layers: Iterable[L.Layer] = (), name: str = "sequential") -> None:
        if not isinstance(name, str):
            raise TypeError(f"Sequential: name must be a string, got {name!r} ({type(name).__name__})")
        self.layers: list[L.Layer] = []
        self.name = name
        self.built = False
        self.input_shape: Shape | None = None
        self.dtype: np.dtype | None = None
        self.optimizer: optimizers_mod.Optimizer | None = None
        self.loss: losses_mod.Loss | None = None
        self.metrics: list[str] = []
        if isinstance(layers, (str, bytes, L.Layer)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"Sequential: layers must be an iterable of npcnn layers, got {shown(layers)}")
        for layer in layers:
            self.add(layer)

    def add(self, layer: L.Layer) -> None:
        """Append ``layer`` (its name must be new to the model); the model must be built again."""
        if not isinstance(layer, L.Layer):
            raise TypeError(f"Sequential takes npcnn layers, got {type(layer).__name__}")
        if any(layer.name == other.name for other in self.layers):
            raise ValueError(f"layer name {layer.name!r} is used twice in the model")
        self.layers.append(layer)
        self.built = False

    # --- building -----------------------------------------------------------------------------------
    def build(self, input_shape: Sequence[int | None], dtype: DTypeLike = "float32", seed: int = 0,
              saved: dict[str, np.ndarray] | None = None) -> Sequential:
        """Build every layer for inputs of ``input_shape``; ``saved``: ``"layer/weight"`` -> array,
        used instead of initialising (see :meth:`load`)."""
        dtype = float_dtype(dtype, "model dtype")
        if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
            raise TypeError(f"input_shape must be a sequence with the batch axis first, got {shown(input_shape)}")
        input_shape = tuple(input_shape)
        if not input_shape:
            raise ValueError("input_shape must start with the batch axis, got ()")
        seed = int_arg(seed, "seed", "build", minimum=0, maximum=math.inf)
        if not self.layers:
            raise ValueError("cannot build an empty Sequential")
        shape = (None,) + tuple(input_shape[1:])
        seeds = np.random.SeedSequence(seed).generate_state(len(self.layers), dtype=np.uint64)
        for layer, layer_seed in zip(self.layers, seeds):
            mine = None if saved is None else {k.split("/", 1)[1]: v for k, v in saved.items()
                                                  if k.split("/", 1)[0] == layer.name}
            try:
                layer.build(shape, dtype, seed=int(layer_seed), saved=mine)
                shape = layer.compute_output_shape(shape)
            except (ValueError, TypeError) as e:
                raise type(e)(f"input_shape {input_shape}: {e}") from None
        self.input_shape, self.dtype, self.built = (None,) + tuple(input_shape[1:]), dtype, True
        return self

    def _ensure_built(self) -> None:
        if not self.built:
            raise RuntimeError("build the model first: model.build(input_shape, dtype)")

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> Shape:
        """The output shape for ``input_shape`` (batch axis included)."""
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def output_shape(self) -> Shape:
        """The built model's output shape, batch axis None."""
        self._ensure_built()
        return self.compute_output_shape(self.input_shape)

    # --- forward / backward -------------------------------------------------------------------------
    def forward(self, x: ArrayLike, training: bool = False) -> np.ndarray:
        """The output for the batch ``x`` (the model's input shape and dtype); builds the model on first use."""
        if not self.built:   # as Keras: the first call builds the model from the input
            x = as_array(x, "x")
            try:
                self.build((None,) + x.shape[1:], x.dtype if x.dtype in FLOAT_DTYPES else "float32")
            except (ValueError, TypeError) as e:
                raise type(e)(f"x of shape {x.shape}: {e}") from None
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    __call__ = forward

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Gradient w.r.t. the model input; fills every layer's ``grads``."""
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    # --- parameters ---------------------------------------------------------------------------------
    def parameters(self) -> dict[str, np.ndarray]:
        """Every weight (trainable or not), ``"layer/weight" -> array`` (the live arrays)."""
        return {f"{layer.name}/{k}": v for layer in self.layers for k, v in layer.params.items()}

    def trainable_parameters(self) -> dict[str, np.ndarray]:
        """The weights the optimizer updates, ``"layer/weight" -> array`` (the live arrays)."""
        return {f"{layer.name}/{k}": layer.params[k] for layer in self.layers for k in layer.trainable}

    def gradients(self) -> dict[str, np.ndarray]:
        """The gradients of the last ``backward``, named as :meth:`trainable_parameters`."""
        return {f"{layer.name}/{k}": layer.grads[k] for layer in self.layers for k in layer.trainable}

    def count_params(self) -> int:
        """How many numbers the model's weights hold."""
        return sum(layer.count_params() for layer in self.layers)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight, in :meth:`parameters`' order."""
        return [p.copy() for p in self.parameters().values()]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Copy ``weights`` (in :meth:`get_weights`' order and shapes) into the model's arrays."""
        params = self.parameters()
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"set_weights: weights must be a list of arrays, got {type(weights).__name__}")
        if len(weights) != len(params):
            raise ValueError(f"set_weights got {len(weights)} arrays for {len(params)} weights")
        for (name, p), w in zip(params.items(), weights):
            w = as_array(w, f"set_weights: weights for {name}")
            if w.dtype.kind not in "biuf":
                raise TypeError(f"set_weights: weights for {name} must hold real numbers, got dtype {w.dtype}")
            if w.shape != p.shape:
                raise ValueError(f"set_weights: weights for {name}: expected shape {p.shape}, got {w.shape}")
            p[...] = w

    def summary(self, print_fn: Callable[[str], object] | None = None) -> str:
        """Print (rich table) and return a text table: layer, type, output shape, parameter count."""
        self._ensure_built()
        from rich.console import Console  # deferred: rich is optional (npcnn does not need it)
        from rich.table import Table  # deferred: rich is optional (npcnn does not need it)

        table = Table(title=f'Model: "{self.name}"')
        for col, justify in (("Layer (type)", "left"), ("Output Shape", "left"), ("Param #", "right")):
            table.add_column(col, justify=justify)
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
            table.add_row(f"{layer.name} ({type(layer).__name__})", str(shape), f"{layer.count_params():,}")
        trainable = sum(p.size for p in self.trainable_parameters().values())
        total = self.count_params()
        footer = (f"Total params: {total:,}\nTrainable params: {trainable:,}\n"
                  f"Non-trainable params: {total - trainable:,}")
        console = Console(record=True, width=100, file=io.StringIO())
        console.print(table)
        console.print(footer)
        text = console.export_text()
        (print_fn or print)(text)
        return text

    # --- training -----------------------------------------------------------------------------------
    def compile(self, optimizer: optimizers_mod.Identifier = "adam", loss: losses_mod.Identifier | None = None,
                metrics: Sequence[str] | None = ("accuracy",)) -> None:
        """Set the optimizer (an instance or a name), the loss (required) and the metrics ('accuracy' or none)."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. SparseCategoricalCrossentropy(from_logits=True)")
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses_mod.get(loss)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise TypeError(f"compile: metrics must be a list of names or None, got {shown(metrics)}")
        metrics = list(metrics or [])
        unknown = [m for m in metrics if not isinstance(m, str) or m not in ("accuracy", "acc")]
        if unknown:
            raise ValueError(f"compile: npcnn supports the 'accuracy' metric only, got metrics {unknown}")
        self.metrics = ["accuracy"] if metrics else []

    def _prepare(self, x: ArrayLike, y: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        x = _examples(x, "x")
        y = None if y is None else _examples(y, "y")
        if not self.built:
            try:
                self.build((None,) + x.shape[1:], x.dtype if x.dtype in FLOAT_DTYPES else "float32")
            except (ValueError, TypeError) as e:
                raise type(e)(f"x of shape {x.shape}: {e}") from None
        x = x.astype(self.dtype, copy=False)
        if y is not None and len(y) != len(x):
            raise ValueError(f"x and y must have the same number of examples, got {len(x)} and {len(y)}")
        return x, (None if y is None else np.asarray(y))

    def _check_compiled(self) -> None:
        if self.loss is None:
            raise RuntimeError("compile the model first: model.compile(optimizer, loss)")

    def _loss_of(self, y: np.ndarray, logits: np.ndarray, compute: Callable) -> object:
        """``compute(y, logits)``; the loss's refusal of ``y`` (class indices out of range, a shape that
        does not match the model's output) names y."""
        try:
            return compute(y, logits)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{type(self.loss).__name__} of y (shape {y.shape}) and the model's output "
                          f"(shape {logits.shape}): {e}") from None

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """One optimizer step on a batch; returns the batch loss and the logits."""
        logits = self.forward(x, training=True)
        value, d_logits = self._loss_of(y, logits, self.loss.value_and_grad)
        self.backward(d_logits)
        self.optimizer.apply(self.gradients(), self.trainable_parameters())
        return float(value), logits

    def fit(self, x: ArrayLike, y: ArrayLike, epochs: int = 1, batch_size: int = 32,
            validation_data: tuple[ArrayLike, ArrayLike] | None = None, shuffle: bool = True, seed: int = 0,
            verbose: int = 1) -> History:
        """Train; returns a :class:`History` with per-epoch loss/accuracy (and val_ ones).

        The epoch loss/accuracy is the batch-size-weighted mean over the epoch's batches, measured
        while training (as Keras reports it). ``verbose``: 0 silent, 1 progress bar, 2 a line per epoch.
        """
        self._check_compiled()
        if y is None:
            raise TypeError("fit: y (the targets) must be given, got None")
        batch_size = int_arg(batch_size, "batch_size", "fit")
        epochs = int_arg(epochs, "epochs", "fit", minimum=0)
        seed = int_arg(seed, "seed", "fit", minimum=0, maximum=math.inf)
        shuffle = flag_arg(shuffle, "fit: shuffle")
        verbose = _verbosity(verbose, "fit")
        if validation_data is not None and (not isinstance(validation_data, (list, tuple))
                                            or len(validation_data) != 2):
            raise TypeError(f"fit: validation_data must be a pair (x, y) or None, got {type(validation_data).__name__}")
        x, y = self._prepare(x, y)
        n = len(x)
        if n == 0:
            raise ValueError(f"fit: x holds no examples (shape {x.shape})")
        rng = np.random.default_rng(seed)
        history = History()
        progress = _Progress(verbose, epochs, -(-n // batch_size))
        with progress:
            for epoch in range(epochs):
                start = time.perf_counter()
                order = rng.permutation(n) if shuffle else np.arange(n)
                totals = {"loss": 0.0, "accuracy": 0.0}
                progress.start_epoch(epoch)
                for b in range(0, n, batch_size):
                    idx = order[b:b + batch_size]
                    value, logits = self.train_step(x[idx], y[idx])
                    totals["loss"] += value * len(idx)
                    if self.metrics:
                        totals["accuracy"] += _accuracy(y[idx], logits, self.loss) * len(idx)
                    seen = min(b + batch_size, n)
                    progress.advance({k: totals[k] / seen for k in ["loss", *self.metrics]})
                logs = {"loss": totals["loss"] / n}
                if self.metrics:
                    logs["accuracy"] = totals["accuracy"] / n
                if validation_data is not None:
                    val = self.evaluate(*validation_data, batch_size=batch_size, return_dict=True)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                history.append(epoch, logs)
                progress.end_epoch(epoch, logs, time.perf_counter() - start)
        return history

    def evaluate(self, x: ArrayLike, y: ArrayLike, batch_size: int = 32, verbose: int = 0,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Loss (and accuracy) in inference mode; a list ``[loss, accuracy]`` or a dict."""
        self._check_compiled()
        if y is None:
            raise TypeError("evaluate: y (the targets) must be given, got None")
        verbose = _verbosity(verbose, "evaluate")
        return_dict = flag_arg(return_dict, "evaluate: return_dict")
        x, y = self._prepare(x, y)
        if len(x) == 0:
            raise ValueError(f"evaluate: x holds no examples (shape {x.shape})")
        logits = self.predict(x, batch_size=batch_size)
        results = {"loss": float(self._loss_of(y, logits, self.loss))}
        if self.metrics:
            results["accuracy"] = _accuracy(y, logits, self.loss)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
        return results if return_dict else (list(results.values()) if len(results) > 1 else results["loss"])

    def predict(self, x: ArrayLike, batch_size: int = 32) -> np.ndarray:
        """Outputs in inference mode, computed ``batch_size`` examples at a time."""
        batch_size = int_arg(batch_size, "batch_size", "predict")
        x, _ = self._prepare(x)
        if len(x) == 0:
            return self.forward(x, training=False)
        outs = [self.forward(x[b:b + batch_size], training=False) for b in range(0, len(x), batch_size)]
        return np.concatenate(outs, axis=0)

    # --- saving -------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The architecture: the model's name and each layer's ``{"class_name", "config"}``."""
        return {"name": self.name, "layers": [L.serialize(layer) for layer in self.layers]}

    def save(self, path: str | os.PathLike) -> None:
        """Write ``path`` (.npz): the architecture as JSON under "config" plus every weight, by name."""
        self._ensure_built()
        config = {"format_version": FORMAT_VERSION, "model": self.get_config(),
                  "input_shape": list(self.input_shape), "dtype": self.dtype.name,
                  "weights": list(self.parameters())}
        arrays = {f"weight_{i}": p for i, p in enumerate(self.parameters().values())}
        with open(path, "wb") as f:
            np.savez(f, config=np.array(json.dumps(config)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Sequential:
        """Rebuild a model written by :meth:`save` (no pickle involved). A file that is not one
        (truncated, corrupted, empty, another format) is a ValueError naming it and what is wrong."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Sequential.load: path must be a str or os.PathLike, got {type(path).__name__}")
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no saved npcnn model at {path}")
        try:
            config, arrays = read_archive(path)
            check_config(config, set(arrays))
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            reason = str(exc)
            if "pickle" in reason or isinstance(exc, (EOFError, zipfile.BadZipFile)) and "CRC" not in reason:
                reason = "not an .npz archive (or a truncated one)"
            raise ValueError(f"{path} is not a model saved by npcnn's Sequential.save: {reason}") from None
        if config["format_version"] != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported format_version {config['format_version']!r}")
        saved = {name: arrays[f"weight_{i}"] for i, name in enumerate(config["weights"])}
        layer_specs = config["model"]["layers"]
        built = []
        for i, spec in enumerate(layer_specs):
            try:
                built.append(L.deserialize(spec))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}: config field model.layers[{i}] ({spec['class_name']}): {exc}") from None
        try:
            model = cls(built, name=config["model"]["name"])
            model.build(config["input_shape"], config["dtype"], saved=saved)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        if list(model.parameters()) != list(saved):
            raise ValueError(f"{path}: weight names {list(saved)} do not match the architecture's "
                             f"{list(model.parameters())}")
        return model


def _examples(value: ArrayLike, name: str) -> np.ndarray:
    """``fit``/``evaluate``/``predict`` data: a real-valued array with a batch axis (it is cast to the
    model's dtype; strings, complex numbers and Python objects are refused)."""
    arr = as_array(value, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype} (shape {arr.shape})")
    if arr.ndim < 1:
        raise ValueError(f"{name} must have a batch axis, got shape {arr.shape}")
    return arr


def _verbosity(verbose: int, method: str) -> int:
    """``verbose``: 0, 1 or 2 (True and False are 1 and 0, as Keras takes them)."""
    if not (is_int(verbose) or isinstance(verbose, (bool, np.bool_))):
        raise TypeError(f"{method}: verbose must be 0, 1 or 2, got {shown(verbose)}")
    if not 0 <= verbose <= 2:
        raise ValueError(f"{method}: verbose must be 0, 1 or 2, got {shown(verbose)}")
    return int(verbose)


def load_model(path: str | os.PathLike) -> Sequential:
    """``Sequential.load(path)``."""
    return Sequential.load(path)


class _Progress:
    """fit's output: a rich progress bar (verbose=1), one line per epoch (2), or nothing (0)."""
    def __init__(self, verbose: int, epochs: int, steps: int) -> None:
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self.bar = None
        self.task = None

    def __enter__(self) -> _Progress:
        if self.verbose == 1:
            from rich.progress import (  # deferred: rich is optional (npcnn does not need it)
                BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn)
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("{task.fields[logs]}"))
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def start_epoch(self, epoch: int) -> None:
        if self.bar is not None:
            self.task = self.bar.add_task(f"Epoch {epoch + 1}/{self.epochs}", total=self.steps, logs="")

    def advance(self, running: dict) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, logs=_format_logs(running))

    def end_epoch(self, epoch: int, logs: dict, seconds: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, logs=_format_logs(logs))
        elif self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s - {_format_logs(logs)}", flush=True)


def _format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
