"""skopeo, the tool that speaks the registry protocol for fabric (Debian's `skopeo`).

fabric never talks to a registry itself: manifests are read with `skopeo inspect --raw`,
blobs fetched through `skopeo experimental-image-proxy` (see proxy.py), images pushed
with `skopeo copy`, credentials checked with `skopeo login`. This module runs it with a
signature policy of fabric's own (so the machine's /etc/containers/policy.json does not
decide what fabric may pull) and turns its errors into the lines Docker prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

from fabric.errors import FabricError, NotFound
from fabric.images.reference import Reference

POLICY = {"default": [{"type": "insecureAcceptAnything"}]}
TIMEOUT = 300


class RegistryError(FabricError):
    """A registry refused or could not be reached; the message is Docker's wording."""


class Unauthorized(RegistryError):
    status = 401


def binary() -> str:
    path = shutil.which("skopeo")
    if not path:
        raise FabricError("skopeo is not installed: run ./setup.sh (apt-get install skopeo); "
                          "fabric moves images to and from registries with it")
    return path


def policy_file(workdir: str) -> str:
    path = os.path.join(workdir, "policy.json")
    if not os.path.exists(path):
        with open(path, "w") as f:
            json.dump(POLICY, f)
    return path


def base_cmd(workdir: str) -> list[str]:
    return [binary(), "--policy", policy_file(workdir)]


def run(args: list[str], workdir: str, ref: Reference | None = None,
        input: str | None = None, timeout: float = TIMEOUT) -> bytes:
    """Run skopeo; its stdout byte for byte (manifests are hashed), or the registry's
    complaint as one Docker-like line."""
    try:
        p = subprocess.run(base_cmd(workdir) + args, capture_output=True,
                           input=input.encode() if input is not None else None,
                           timeout=timeout, cwd=workdir)
    except subprocess.TimeoutExpired:
        raise RegistryError(f"the registry did not answer within {timeout:.0f} s") from None
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip()
        raise translate(err or p.stdout.decode(errors="replace").strip(), ref)
    return p.stdout


# skopeo wraps the registry's answer in what it was doing; Docker shows the answer,
# or from the failed request on (`Get "https://HOST/v2/": dial tcp ...`).
_LOGLINE = re.compile(r'^time="[^"]*" level=\w+ msg="(.*)"$')
_REQUEST = re.compile(r'(?:Get|Head|Post|Put|Patch) "https?://')
_WRAPPER = re.compile(r'^(?:Error: |Error parsing image name "[^"]*": |'
                      r"(?:initializing (?:source|destination) \S+|"
                      r"reading manifest \S+ in \S+|pinging container registry \S+|"
                      r"trying to reuse blob \S+ at destination|writing blob|"
                      r"writing manifest|checking whether a blob \S+ exists in \S+|"
                      r"authenticating creds for \S+|fetching blob|"
                      r"copying system image from manifest list|"
                      r"choosing an image from manifest list \S+|"
                      r"uploading layer (?:chunked|to \S+)|Requesting bearer token): )")


def _detail(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    m = _LOGLINE.match(line)
    if m:
        line = m.group(1).replace('\\"', '"')
    req = _REQUEST.search(line)
    if req:
        return line[req.start():]
    while True:
        stripped = _WRAPPER.sub("", line, count=1)
        if stripped == line:
            return line
        line = stripped


def translate(stderr: str, ref: Reference | None) -> FabricError:
    """skopeo's error as Docker's daemon words it."""
    detail = _detail(stderr)
    low = detail.lower()
    if ref is not None and ("manifest unknown" in low or "not found" in low and
                            "manifest" in low):
        return NotFound(f"manifest for {ref.name}:{ref.ident} not found: "
                        "manifest unknown: manifest unknown" if not ref.digest else
                        f"manifest for {ref.name}@{ref.digest} not found: manifest unknown: "
                        "manifest unknown")
    if ref is not None and "name unknown" in low:
        return NotFound(f"repository {ref.name} not found: name unknown: repository name "
                        "not known to registry")
    if "unauthorized" in low or "authentication required" in low or \
            "invalid username/password" in low:
        return Unauthorized(detail if detail.startswith(("Get ", "Head ", "Post ", "Put "))
                            else f"unauthorized: authentication required ({detail})")
    if ref is not None and ("denied" in low):
        return Unauthorized(f"pull access denied for {ref.name}, repository does not exist "
                            f"or may require 'fabric login': {detail}")
    return RegistryError(detail or "skopeo failed without a message")


def inspect_raw(ref: Reference, flags: list[str], workdir: str) -> bytes:
    """The manifest (or manifest list) the registry serves for ref, byte for byte."""
    return run(["inspect", "--raw", "--retry-times", "0", *flags, docker_url(ref)],
               workdir, ref)


def docker_url(ref: Reference) -> str:
    return f"docker://{ref.full_name}{'@' if ref.digest else ':'}{ref.ident}"
