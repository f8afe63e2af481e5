"""Where the member axis lives: padded to fill every device and sharded over them, for every
command (simulate's chunks and vmapped solves, train-pinn's and train-ude's vmapped steps).

`Placement(n, width)`: n members padded (the last repeated) to `width`, a multiple of the device
count, and sharded over the one `members` axis of every device of every process (`global_mesh`);
with one device the arrays stay as they are. `place` pads and puts a member-stacked pytree on the
devices, `unpad` takes the real members back, `mask` pads a per-member boolean with False, and
`replicated` puts arrays every member shares on every device.
"""

from __future__ import annotations

import dataclasses

import numpy as np


def global_mesh():
    """Every device of every process along one `members` axis."""
    import jax
    from jax.sharding import Mesh

    return Mesh(np.array(jax.devices()), ("members",))


@dataclasses.dataclass
class Placement:
    n: int  # real members
    width: int | None = None  # padded member count (default: n up to a multiple of the device count)

    def __post_init__(self):
        import jax

        self.devices = jax.device_count()
        round_up = -(-self.n // self.devices) * self.devices
        self.width = round_up if self.width is None else -(-self.width // self.devices) * self.devices
        if self.width < self.n:
            raise ValueError(f"{self.n} members do not fit a width of {self.width}")

    @property
    def sharded(self) -> bool:
        return self.devices > 1

    def sharding(self, replicate: bool = False):
        """The member axis over every device (`replicate`: the whole array on each)."""
        from jax.sharding import NamedSharding, PartitionSpec

        return NamedSharding(global_mesh(), PartitionSpec() if replicate else PartitionSpec("members"))

    def pad(self, tree):
        """Every leaf's leading (member) axis from n to `width`, repeating the last member."""
        import jax
        import jax.numpy as jnp

        if self.width == self.n:
            return tree
        extra = self.width - self.n

        def pad(v):
            if isinstance(v, np.ndarray):
                return np.concatenate([v, np.repeat(v[-1:], extra, axis=0)])
            return jnp.concatenate([v, jnp.repeat(v[-1:], extra, axis=0)])

        return jax.tree_util.tree_map(pad, tree)

    def place(self, tree):
        """Pad, then shard the member axis over the devices (one device: padded only)."""
        return self.put(self.pad(tree))

    def put(self, tree, replicate: bool = False):
        """Arrays onto the devices: by member (padded already), or whole on each (`replicate`).
        Host arrays every process holds in full become global arrays (several processes)."""
        import jax

        if not self.sharded:
            return tree
        sharding = self.sharding(replicate)
        if jax.process_count() == 1:
            return jax.device_put(tree, sharding)

        def one(x):
            x = np.asarray(x)
            return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

        return jax.tree_util.tree_map(one, tree)

    def unpad(self, tree):
        """The real members of a placed pytree."""
        import jax

        return tree if self.width == self.n else jax.tree_util.tree_map(lambda v: v[: self.n], tree)

    def mask(self, mask) -> np.ndarray:
        """A per-member boolean padded with False (padding members are never selected)."""
        return np.concatenate([np.asarray(mask, bool), np.zeros(self.width - self.n, bool)])
