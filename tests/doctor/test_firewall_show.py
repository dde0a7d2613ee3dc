"""`fabric firewall show` on both backends: a link through icc=false, a published port
and a user rule, in words beside the rules that carry them out, whose counters rise
with the traffic they decide."""

import json
import os

import pytest


def _settings(host, **kw) -> None:
    # before the first command starts the host's daemon
    with open(os.path.join(host.root, "settings.json"), "w") as f:
        json.dump(kw, f)


def _serve(host, name: str, *args: str) -> str:
    host.fab("run", "-d", "--name", name, *args, "busybox", "sh", "-c",
             "echo hi > /tmp/index.html; exec httpd -f -p 80 -h /tmp")
    host.fab("exec", name, "sh", "-c", "for i in $(seq 50); do wget -q -O - "
             "http://127.0.0.1/ && exit 0; sleep 0.1; done; exit 1")
    return host.fab("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).out.strip()


def _get(host, client: str, url: str, wait: str = "2"):
    # busybox-static's wget crashes with -T: bounded by timeout instead
    return host.fab("exec", client, "timeout", wait, "wget", "-q", "-O", "-", url, check=False)


def _fact(view: dict, words: str) -> dict:
    facts = [f for n in view["networks"] for f in n["facts"]] + view["user_rules"] + \
        view["forward"]
    hit = [f for f in facts if f["words"].startswith(words)]
    assert hit, (words, [f["words"] for f in facts])
    return hit[0]


def _packets(fact: dict) -> int:
    return sum(r["packets"] for r in fact["rules"])


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_show_names_the_intent_beside_counting_rules(host, backend):
    _settings(host, **{"icc": False, "firewall-backend": backend})
    web = _serve(host, "web", "-p", "8080:80")
    host.fab("run", "-d", "--name", "app", "--link", "web:db", "busybox", "sleep", "300")
    host.fab("run", "-d", "--name", "other", "busybox", "sleep", "300")
    app = host.fab("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "app").out.strip()
    rid = host.fab("firewall", "add", "-s", app, "-p", "tcp", "--dport", "8081", "-j", "DROP",
                   "--comment", "no 8081").out.strip()

    before = json.loads(host.fab("firewall", "show", "--json").out)
    assert before["backend"] == backend and not before["drift"]
    link = _fact(before, "app -> web tcp/80 allowed by link web:db")
    port = _fact(before, "0.0.0.0:8080 -> web:80/tcp (DNAT)")
    icc = _fact(before, "network bridge: icc=false")
    user = _fact(before, f"user rule 1 ({rid}): drop tcp/8081 from app ({app}) to anywhere")
    for f in (link, port, icc, user):
        assert f["rules"], f
    if backend == "nftables":
        assert any("@links" in e and app in e and web in e for e in link["elements"])
        assert any("dnat_any_addr" in e and "8080" in e for e in port["elements"])
        assert all('comment "' in r["text"] and "counter" in r["text"] for r in link["rules"])
    else:
        assert any(f"-s {app}/32 -d {web}/32" in r["text"] and "--dport 80" in r["text"]
                   for r in link["rules"])
        assert any("--dport 8080 -j DNAT --to-destination" in r["text"] for r in port["rules"])

    assert _get(host, "app", f"http://{web}/").out == "hi\n"          # the link
    assert _get(host, "other", f"http://{web}/", "0.5").code != 0       # icc=false
    assert _get(host, "app", f"http://{web}:8081/", "0.5").code != 0    # the user rule
    assert _get(host, "other", f"http://{web.rsplit('.', 1)[0]}.1:8080/").out == "hi\n"
    after = json.loads(host.fab("firewall", "show", "--json").out)
    for words in ("app -> web tcp/80", "network bridge: icc=false", f"user rule 1 ({rid})",
                  "0.0.0.0:8080 -> web:80/tcp"):
        assert _packets(_fact(after, words)) > _packets(_fact(before, words)), words

    text = host.fab("firewall", "show").out
    assert f"fabric's firewall ({backend})" in text
    assert "  app -> web tcp/80 allowed by link web:db\n" in text
    assert "pkts  bytes  rule" in text
