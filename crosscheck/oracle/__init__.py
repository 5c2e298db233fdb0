"""The TensorFlow side: the reference of a case (``reference``), the TensorFlow calls it is built
from (``tf_lib``, ``tf_glue``), the quirks that decide where TensorFlow is not the spec
(``quirks``, their demonstrations in ``quirk_demos``), the backend in force (``backend``) and a
worker of another backend (``remote``). Importing this package imports nothing."""
