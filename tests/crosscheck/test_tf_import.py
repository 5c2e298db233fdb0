"""crosscheck's own processes import TensorFlow without Keras's matplotlib and scikit-learn parts."""
import subprocess
import sys

LEAN_PROCESS = '''
import sys
from crosscheck import tf_import
tf_import.lean()
tf = tf_import.tensorflow()
keras = tf_import.keras_module()
print("hidden:", [m for m in tf_import.HIDDEN_WHILE_IMPORTING if m in sys.modules])
y = keras.ops.conv_transpose(tf.ones([1, 2, 2, 1]), tf.ones([2, 2, 1, 1]), strides=1, padding="valid")
print("conv_transpose:", y.numpy().ravel().tolist())
import matplotlib, sklearn                         # the user's code may still import them
print("importable afterwards:", bool(matplotlib.__version__ and sklearn.__version__))
'''


def test_a_lean_process_imports_tensorflow_and_keras_without_matplotlib_and_sklearn():
    r = subprocess.run([sys.executable, "-c", LEAN_PROCESS], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "hidden: []" in r.stdout
    assert "conv_transpose: [1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]" in r.stdout
    assert "importable afterwards: True" in r.stdout


def test_a_library_import_leaves_keras_whole():
    """The pytest process imports crosscheck as a library: Keras keeps its scikit-learn wrappers."""
    from crosscheck import tf_import
    tf_import.tensorflow()
    import keras.src.wrappers.fixes as fixes
    assert fixes.sklearn is not None
