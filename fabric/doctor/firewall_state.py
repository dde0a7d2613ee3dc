"""fabric's own firewall against the store: its nft tables (or iptables chains) missing,
or changed by hand since fabric rendered them (backend.drift). fabric owns them: the
repair renders them whole from the store again."""

from fabric.doctor.findings import Finding
from fabric.doctor.scene import Scene

FIX = "fabric doctor --fix  (renders fabric's firewall whole from the store)"


def check(scene: Scene) -> list[Finding]:
    backend = scene.fw.backend()
    if not scene.intent.enabled:
        if backend.current().present:
            return [Finding("firewall", f"fabric's {backend.name} rules are there though "
                            "the iptables setting is false", FIX, repair=_render(scene))]
        return []
    drift = backend.drift(scene.intent)
    if not drift:
        return []
    more = f" (and {len(drift) - 1} more difference(s))" if len(drift) > 1 else ""
    return [Finding("firewall", f"fabric's {backend.name} rules differ from the store: "
                    f"{drift[0]}{more}", FIX, repair=_render(scene))]


def _render(scene: Scene):
    def repair() -> None:
        with scene.svc.lock:
            scene.fw.render(force=True)
    return repair
