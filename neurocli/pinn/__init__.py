"""Physics-informed networks for the reaction–diffusion caricature u_t = u_xx − u + H_k(u − a)."""

from neurocli.pinn.ansatz import Ansatz as Ansatz
from neurocli.pinn.heat import HeatSeries as HeatSeries
from neurocli.pinn.networks import PinnNetwork as PinnNetwork
from neurocli.pinn.setup import PinnSetup as PinnSetup
from neurocli.pinn.train import Trainer as Trainer
from neurocli.pinn.train import member_keys as member_keys
