"""Seccomp as Docker applies it: a default profile with the same effect as Docker's
(no new user namespace, no mount, ...), `--security-opt seccomp=unconfined|FILE`,
`no-new-privileges`, `--privileged` and the capabilities that lift parts of it."""

import json

from helpers import assert_clean

PROBE = ('grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status | tr -d "\\t"; '
         'unshare -U -r true 2>/dev/null && echo userns=yes || echo userns=no; '
         'unshare -m -r sh -c "mount -t tmpfs t /mnt" 2>/dev/null && echo mount=yes '
         '|| echo mount=no')


def _probe(host, *opts: str) -> list[str]:
    return host.fab("run", "--rm", *opts, "busybox", "sh", "-c", PROBE).out.split()


def test_default_profile_blocks_what_dockers_blocks(host):
    assert _probe(host) == ["NoNewPrivs:0", "Seccomp:2", "userns=no", "mount=no"]
    r = host.fab("run", "--rm", "busybox", "unshare", "-U", "-r", "true", check=False)
    assert r.code != 0 and "Operation not permitted" in r.err, r
    # what every container does still works: files, sockets, processes, the network
    out = host.fab("run", "--rm", "busybox", "sh", "-c",
                   "mkdir /x && echo ok > /x/f && cat /x/f && (sleep 0.1 &) && wait && "
                   "ping -c1 -W2 127.0.0.1 >/dev/null && echo net").out
    assert out == "ok\nnet\n"
    host.fab("run", "-d", "--name", "e", "busybox", "sleep", "300")
    assert host.fab("exec", "e", "grep", "^Seccomp:", "/proc/self/status").out.split() == \
        ["Seccomp:", "2"]


def test_lifting_it(host, tmp_path):
    free = ["Seccomp:0", "userns=yes", "mount=yes"]
    assert _probe(host, "--privileged")[1:] == free
    assert _probe(host, "--security-opt", "seccomp=unconfined")[1:] == free
    # a capability lifts the part of Docker's profile it guards
    assert _probe(host, "--cap-add", "SYS_ADMIN")[1:3] == ["Seccomp:2", "userns=yes"]
    assert _probe(host, "--security-opt", "no-new-privileges")[:2] == \
        ["NoNewPrivs:1", "Seccomp:2"]
    assert _probe(host, "--security-opt", "no-new-privileges=false")[0] == "NoNewPrivs:0"
    # a profile of one's own, in Docker's format: everything but mkdir
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    r = host.fab("run", "--name", "own", "--security-opt", f"seccomp={prof}", "busybox",
                 "sh", "-c", "touch /f && mkdir /d", check=False)
    assert r.code == 1 and "Operation not permitted" in r.err, r
    opt = json.loads(host.fab("inspect", "-f", "{{json .HostConfig.SecurityOpt}}", "own").out)
    assert len(opt) == 1 and opt[0].startswith("seccomp={") and \
        json.loads(opt[0][len("seccomp="):])["defaultAction"] == "SCMP_ACT_ALLOW"
    host.fab("rm", "own")


def test_bad_security_opts(host, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for opt, says in (("bogus", 'Invalid --security-opt: "bogus"'),
                      ("seccomp=/nonexistent.json",
                       "opening seccomp profile (/nonexistent.json) failed"),
                      (f"seccomp={bad}", f"compacting json for seccomp profile ({bad}) failed"),
                      ("nope=1", 'invalid --security-opt 2: "nope=1"'),
                      ("no-new-privileges=maybe",
                       'invalid --security-opt 2: "no-new-privileges=maybe"')):
        r = host.fab("run", "--rm", "--security-opt", opt, "busybox", "true", check=False)
        assert r.code == 125 and says in r.err and r.err.count("\n") == 1, (opt, r)
    # a profile that runc cannot load is refused at create, not at start
    weird = tmp_path / "weird.json"
    weird.write_text(json.dumps({"defaultAction": "SCMP_ACT_NOPE"}))
    r = host.fab("create", "--security-opt", f"seccomp={weird}", "busybox", check=False)
    assert r.code == 125 and "SCMP_ACT_NOPE" in r.err, r
    assert_clean(host)
