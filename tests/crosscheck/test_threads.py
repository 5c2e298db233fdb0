"""crosscheck's thread limits hold wherever they are set first (crosscheck/threads.py)."""
import subprocess
import sys

BEFORE_NUMPY = '''
import sys
from crosscheck.threads import limit_blas_threads
assert "numpy" not in sys.modules
limit_blas_threads()
from threadpoolctl import threadpool_info
print([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"])
'''


def test_the_blas_limit_holds_when_set_before_numpy_is_imported():
    """threadpoolctl limits only the libraries already loaded: called first thing (as the fork
    server's preload does), the limit must still reach NumPy's BLAS."""
    r = subprocess.run([sys.executable, "-c", BEFORE_NUMPY], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    threads = eval(r.stdout.strip())
    assert threads and set(threads) == {1}, r.stdout
