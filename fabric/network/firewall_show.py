"""`fabric firewall show`, served by the daemon: the host's firewall as its records
intend it, in words, beside the kernel's rules and counters (fabric/firewall/show.py)."""

from fabric.firewall import iptables, nftrender, show
from fabric.network.firewall_rendering import FirewallRendering


def view(fw: FirewallRendering) -> dict:
    with fw.svc.lock:       # one intent, the kernel as it rendered it
        intent = fw.intent()
        words = fw.words(intent)
        backend = fw.backend()
        kernel = backend.rules()
        state = backend.current()
        drift = backend.drift(intent) if intent.enabled else []
    if backend.name == "iptables":
        seen, drifted = show.explain_iptables(kernel, iptables.explained(intent))
        rendered = None
    else:
        seen, drifted = show.explain_nft(kernel), []
        rendered = nftrender.render(intent)
    return show.view(words, backend.name, seen, rendered, state.warnings + state.outside,
                     drift + drifted)
