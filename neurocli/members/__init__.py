"""The members of a run, for every command: one table (`MemberTable`), one binding of dotted
config paths to where each value lives (`Binding`, `Parameter`), one placement of the member
axis on devices (`placement`), and members.csv (`file`).

A run is a table of members: one row per member, one column per swept parameter (a run without
a sweep is one row with no columns). Every command builds its table from the one `sweep:`
schema (config/common.py `SweepConfig`) and checks it with its `Binding`, which knows, for each
sweepable path, the schema field that limits it (and its unit), and where the value goes in the
command's model pytree (set with `eqx.tree_at`) or config.

This package's `__init__` imports no JAX and no file code: config schemas use the binding.
"""

from neurocli.members.binding import Binding as Binding
from neurocli.members.binding import Parameter as Parameter
from neurocli.members.table import MemberTable as MemberTable
