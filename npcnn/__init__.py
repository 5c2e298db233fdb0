"""npcnn: a NumPy CNN library with hand-written backward passes and TensorFlow's exact semantics."""
from . import functional
from .gradients import differentiable_ops, vjp, vjp_rule

__all__ = ["functional", "vjp", "vjp_rule", "differentiable_ops"]
