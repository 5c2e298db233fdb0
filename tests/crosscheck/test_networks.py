"""Whole-network parity: random architectures in npcnn and Keras (float64), and proof that the
check catches a wrong optimizer and a flatten in the wrong layout, naming what is wrong."""
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("keras")

import npcnn  # noqa: E402
from crosscheck.case import MISMATCH, PASS  # noqa: E402
from crosscheck.networks import Architecture, architectures, check_network  # noqa: E402
from crosscheck.threads import limit_threads  # noqa: E402

limit_threads()

# ~0.4 s per network: a few in everyday runs, 200 per optimizer in the thorough profile (issue 5).
EXAMPLES = 200 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 8


def _explain(outcome) -> str:
    lines = [outcome.case.params["architecture"], outcome.message, *outcome.notes]
    lines += [f"{d.tensor}: max_abs_err {d.max_abs_err:.3g} (atol {d.atol:.3g}, rtol {d.rtol:.3g}), "
              f"{d.mismatched}/{d.total} mismatched" for d in outcome.failures[:6]]
    return "\n".join(lines)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_random_networks_match_keras(optimizer):
    @settings(max_examples=EXAMPLES)
    @given(arch=architectures(), seed=st.integers(0, 2**31 - 1))
    def check(arch, seed):
        outcome = check_network(arch, optimizer, seed=seed)
        assert outcome.status == PASS, _explain(outcome)
        tensors = {d.tensor.split("[")[0].split("@")[0] for d in outcome.diffs}
        assert {"out", "loss", "d"} <= tensors
    check()


def _arch(input_shape, batch, classes, layers) -> Architecture:
    return Architecture(input_shape, batch, classes, [{"class_name": c, "config": dict(k)} for c, k in layers])


def _conv(filters, kernel, strides, **extra):
    return ("Conv2D", {"filters": filters, "kernel_size": kernel, "strides": strides, "padding": "valid", **extra})


# Found by the thorough profile: ill-conditioned but legitimate networks whose rounding the
# tolerance policy must cover (LayerNorm of a 2-vector normalised again; BN of a dead-ReLU channel).
REGRESSIONS = [
    (_arch((3, 4, 2), 2, 2, [("LayerNormalization", {}), ("LayerNormalization", {}),
                             ("GlobalAveragePooling2D", {}), ("Dense", {"units": 2})]), 44233),
    (_arch((3, 6, 2), 3, 4, [
        _conv(1, (3, 1), (1, 2), use_bias=False), ("BatchNormalization", {}), ("Activation", {"activation": "relu"}),
        _conv(1, (1, 1), (1, 2), use_bias=False), ("BatchNormalization", {}), ("Activation", {"activation": "relu"}),
        _conv(4, (1, 1), (1, 2), use_bias=False), ("BatchNormalization", {}), ("Activation", {"activation": "relu"}),
        _conv(1, (1, 1), (1, 2)), ("GlobalAveragePooling2D", {}), ("Dense", {"units": 4})]), 32386),
]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("arch,seed", REGRESSIONS, ids=["layernorm-twice", "bn-dead-relu"])
def test_ill_conditioned_networks_regressions(arch, seed, optimizer):
    outcome = check_network(arch, optimizer, seed=seed)
    assert outcome.status == PASS, _explain(outcome)


def conv_bn_flatten_dense() -> Architecture:
    arch = Architecture((6, 5, 2), batch=3, classes=3)
    for cls, config in [("Conv2D", {"filters": 3, "kernel_size": 3, "padding": "same", "use_bias": False}),
                        ("BatchNormalization", {}), ("ReLU", {}), ("MaxPooling2D", {"pool_size": 2}),
                        ("Flatten", {}), ("Dense", {"units": 3})]:
        arch.layers.append({"class_name": cls, "config": config})
    return arch


def test_fixed_network_passes_and_compares_everything():
    arch = conv_bn_flatten_dense()
    outcome = check_network(arch, "adam", seed=1)
    assert outcome.status == PASS, _explain(outcome)
    kinds = [d.tensor.split("[")[0] if "[" in d.tensor else d.tensor.split("/")[-1] for d in outcome.diffs]
    assert kinds.count("out") == 6 and kinds.count("loss") == 1
    assert kinds.count("d") == 5  # conv kernel, gamma, beta, dense kernel and bias
    assert sorted(k for k in kinds if k.endswith("@step10")) == sorted(  # BN moving statistics included
        ["kernel@step10", "gamma@step10", "beta@step10", "moving_mean@step10", "moving_variance@step10",
         "kernel@step10", "bias@step10"])


class AdamWithoutBiasCorrection(npcnn.Adam):
    def update(self, key, variable, gradient):
        m, v = self.slot("momentum", key, variable), self.slot("velocity", key, variable)
        m += (gradient - m) * (1 - self.beta_1)
        v += (np.square(gradient) - v) * (1 - self.beta_2)
        variable -= self.learning_rate * m / (np.sqrt(v) + self.epsilon)


def test_adam_without_bias_correction_is_caught():
    outcome = check_network(conv_bn_flatten_dense(), "adam", seed=1,
                            npcnn_optimizer=AdamWithoutBiasCorrection(learning_rate=0.01))
    assert outcome.status == MISMATCH
    failing = [d.tensor for d in outcome.failures]
    assert failing and all(t.endswith("@step10") for t in failing), failing  # forward and gradients agree
    assert "dense" in " ".join(failing) and "kernel@step10" in outcome.message


def test_flatten_in_the_wrong_layout_is_caught_and_named():
    class ChannelsFirstFlatten(npcnn.Flatten):
        def call(self, x, training):
            y, pullback = npcnn.vjp("flatten", np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            return y, lambda dy: (pullback(dy)[0].transpose(0, 2, 3, 1), {})

    def swap_flatten(model):
        i = next(i for i, layer in enumerate(model.layers) if isinstance(layer, npcnn.Flatten))
        wrong = ChannelsFirstFlatten(name=model.layers[i].name)
        wrong.build(model.layers[i].input_shape, model.dtype)
        model.layers[i] = wrong
        return model

    outcome = check_network(conv_bn_flatten_dense(), "sgd", seed=2, implementation=swap_flatten)
    assert outcome.status == MISMATCH
    assert outcome.failures[0].tensor.startswith("out[flatten")
    assert outcome.message.startswith("first mismatch: out[flatten")


def test_crosscheck_run_networks_checks_architectures_with_every_optimizer(tmp_path, capsys):
    from crosscheck.cli import main
    report = tmp_path / "report"
    assert main(["run", "--networks", "--examples", "2", "--report", str(report)]) == 0
    doc = json.loads((report / "report.json").read_text())
    assert doc["summary"]["ops"]["network"]["pass"] == 6   # 2 architectures x (sgd, adam, rmsprop)
    assert "network" in capsys.readouterr().out


def test_a_saved_network_mismatch_replays_against_npcnn(tmp_path, capsys):
    # the mismatch came from a wrong Adam; replay rebuilds the same architecture with npcnn's own
    # optimizer, which passes, so the replay file is enough to reproduce the network and batches
    from crosscheck.cli import main
    from crosscheck.replay import save_case
    outcome = check_network(conv_bn_flatten_dense(), "adam", seed=1,
                            npcnn_optimizer=AdamWithoutBiasCorrection(learning_rate=0.01))
    assert outcome.status == MISMATCH
    path = save_case(tmp_path / "net.json", outcome.case, outcome)
    assert main(["replay", str(path)]) == 0
    assert "status: pass" in capsys.readouterr().out
    from crosscheck.replay import snippet
    exec(compile(snippet(outcome.case, path), "snippet", "exec"), {})
    assert capsys.readouterr().out.splitlines()[0] == "pass"
