"""Fixtures shared by npcnn's tests."""
import pytest


@pytest.fixture(scope="session")
def tf():
    """TensorFlow, on one intra-op and one inter-op thread where it has not started its runtime yet
    (another test may have); imported only by the tests that compare with it."""
    import tensorflow
    try:
        tensorflow.config.threading.set_intra_op_parallelism_threads(1)
        tensorflow.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # the runtime already started (another test used TensorFlow first)
    return tensorflow
