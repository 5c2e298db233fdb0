"""The op descriptions, one module per family; :mod:`crosscheck.registry` collects their ``OPS``.

Each module defines, for each of its ops, one :class:`crosscheck.opinfo.OpInfo`: parameters,
strategies (valid, extreme and invalid calls), TensorFlow reference paths, geometry, plain-TF
call, tolerance terms. TensorFlow is imported only inside the path functions.
"""
