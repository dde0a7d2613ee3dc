"""Seccomp profiles in Docker's format, fabric's default one, and their OCI form.

The default has the effect of Docker's: system calls are refused with EPERM unless
listed; those that reach past the container (mount, unshare and setns, namespaces
through clone, bpf, module loading, the clock, reboot, ...) are allowed only with the
capability that guards them (`--cap-add SYS_ADMIN` lifts the first group); clone3 says
ENOSYS so that libc falls back to clone, whose namespace flags can be checked. runc
applies it after dropping privileges; syscalls newer than runc's libseccomp get
ENOSYS from runc's own stub, names it does not know are skipped.

A profile of one's own (`--security-opt seccomp=FILE`, sent by the CLI as its JSON)
uses the same format, so both go through `to_oci`: the architecture's sub-arches from
`archMap`, and each rule kept when its `includes`/`excludes` (capabilities, arches,
minimum kernel) fit the container, as Docker does.
"""

import json
import os
import platform
from typing import Any

from fabric.errors import InvalidArgument

# Everything an ordinary process does (files, memory, signals, sockets, time, ...).
_ALLOWED = """
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv
futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid
geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1
inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter
io_uring_register io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset
landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr
_llseek lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap
mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync
munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat
openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect
poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat
renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx
symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
"""

# Allowed only with the capability that guards what they do.
_BY_CAPABILITY = {
    "CAP_DAC_READ_SEARCH": "open_by_handle_at",
    "CAP_SYS_ADMIN": "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick "
                     "lookup_dcookie mount mount_setattr move_mount open_tree perf_event_open "
                     "quotactl quotactl_fd setdomainname sethostname setns syslog umount "
                     "umount2 unshare",
    "CAP_SYS_BOOT": "reboot",
    "CAP_SYS_CHROOT": "chroot",
    "CAP_SYS_MODULE": "delete_module init_module finit_module",
    "CAP_SYS_PACCT": "acct",
    "CAP_SYS_PTRACE": "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev "
                      "ptrace",
    "CAP_SYS_RAWIO": "iopl ioperm",
    "CAP_SYS_TIME": "settimeofday stime clock_settime clock_settime64",
    "CAP_SYS_TTY_CONFIG": "vhangup",
    "CAP_SYS_NICE": "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    "CAP_SYSLOG": "syslog",
    "CAP_BPF": "bpf",
    "CAP_PERFMON": "perf_event_open",
}

# Allowed on these architectures only (Go's names for them, as Docker's profiles use).
_BY_ARCH = [
    (["amd64", "x32"], "arch_prctl"),
    (["amd64", "x32", "x86"], "modify_ldt"),
    (["arm", "arm64"], "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint "
                       "cacheflush set_tls"),
    (["ppc64le"], "sync_file_range2 swapcontext"),
    (["s390", "s390x"], "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"),
    (["riscv64"], "riscv_flush_icache"),
]

_NEW_NAMESPACES = 0x7E020000     # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}
_AF_VSOCK = 40
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)   # LINUX, 32BIT, UNAME26, query
_ENOSYS, _EPERM = 38, 1

# The machine's architecture: (Go's name, libseccomp's, its sub-architectures).
_ARCHES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64", ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64", ["SCMP_ARCH_ARM"]),
    "s390x": ("s390x", "SCMP_ARCH_S390X", ["SCMP_ARCH_S390"]),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE", []),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64", []),
}
ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
           "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
OPERATORS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
             "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")


def _arg(index: int, value: int, op: str, two: int = 0) -> dict:
    return {"index": index, "value": value, "valueTwo": two, "op": op}


def default_profile() -> dict:
    """fabric's default, in Docker's profile format."""
    allow = "SCMP_ACT_ALLOW"
    rules: list[dict] = [{"names": _ALLOWED.split(), "action": allow}]
    rules.append({"names": ["process_vm_readv", "process_vm_writev", "ptrace"],
                  "action": allow, "includes": {"minKernel": "4.8"}})
    rules.append({"names": ["socket"], "action": allow,
                  "args": [_arg(0, _AF_VSOCK, "SCMP_CMP_NE")]})
    rules += [{"names": ["personality"], "action": allow,
               "args": [_arg(0, p, "SCMP_CMP_EQ")]} for p in _PERSONALITIES]
    rules += [{"names": names.split(), "action": allow, "includes": {"arches": arches}}
              for arches, names in _BY_ARCH]
    rules += [{"names": names.split(), "action": allow, "includes": {"caps": [cap]}}
              for cap, names in _BY_CAPABILITY.items()]
    # Without CAP_SYS_ADMIN: clone without new namespaces (s390 swaps its arguments),
    # and clone3, whose flags a filter cannot see, answered "not implemented".
    rules.append({"names": ["clone"], "action": allow,
                  "args": [_arg(0, _NEW_NAMESPACES, "SCMP_CMP_MASKED_EQ")],
                  "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}})
    rules.append({"names": ["clone"], "action": allow,
                  "args": [_arg(1, _NEW_NAMESPACES, "SCMP_CMP_MASKED_EQ")],
                  "includes": {"arches": ["s390", "s390x"]},
                  "excludes": {"caps": ["CAP_SYS_ADMIN"]}})
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": _ENOSYS,
                  "excludes": {"caps": ["CAP_SYS_ADMIN"]}})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": _EPERM,
            "archMap": [{"architecture": native, "subArchitectures": subs}
                        for _go, native, subs in _ARCHES.values()],
            "syscalls": rules}


def load(text: str) -> dict:
    """A profile of one's own, checked here so a bad one is refused at create."""
    try:
        prof = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"Decoding seccomp profile failed: {e}") from None
    if not isinstance(prof, dict):
        raise InvalidArgument("Decoding seccomp profile failed: not a JSON object")
    to_oci(prof, [])   # the same checks as at start
    return prof


def _kernel() -> tuple[int, ...]:
    release = os.uname().release.split("-")[0]
    return tuple(int(x) for x in release.split(".")[:2] if x.isdigit())


def _fits(cond: dict | None, caps: list[str], arch: str, include: bool) -> bool:
    """Whether a rule's includes (all must hold) or excludes (any one rules it out)
    let it apply to this container."""
    if not cond:
        return True
    tests = []
    if cond.get("arches"):
        tests.append(arch in cond["arches"])
    if cond.get("caps"):
        held = [c in caps for c in cond["caps"]]
        tests.append(all(held) if include else any(held))
    if cond.get("minKernel"):
        try:
            want = tuple(int(x) for x in str(cond["minKernel"]).split(".")[:2])
        except ValueError:
            raise InvalidArgument(f"invalid minKernel {cond['minKernel']!r} in the seccomp "
                                  "profile") from None
        tests.append(_kernel() >= want)
    return all(tests) if include else not any(tests)


def _action(value: Any) -> str:
    if value not in ACTIONS:
        raise InvalidArgument(f"invalid seccomp action {value!r}: use one of "
                              f"{', '.join(ACTIONS)}")
    return value


def to_oci(prof: dict, caps: list[str]) -> dict | None:
    """The OCI `linux.seccomp` for a container holding these capabilities; None for a
    profile with neither a default action nor rules (Docker: no filter)."""
    go_arch, native, _subs = _ARCHES.get(platform.machine(), ("", "", []))
    if not prof.get("defaultAction") and not prof.get("syscalls"):
        return None
    if prof.get("architectures") and prof.get("archMap"):
        raise InvalidArgument("'architectures' and 'archMap' were specified in the seccomp "
                              "profile, use either 'architectures' or 'archMap'")
    out: dict = {"defaultAction": _action(prof.get("defaultAction"))}
    if prof.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = int(prof["defaultErrnoRet"])
    arches = list(prof.get("architectures") or [])
    for m in prof.get("archMap") or []:
        if m.get("architecture") == native:
            arches += [native] + list(m.get("subArchitectures") or [])
    if arches:
        out["architectures"] = arches
    calls = []
    for rule in prof.get("syscalls") or []:
        if rule.get("name") and rule.get("names"):
            raise InvalidArgument("'name' and 'names' were specified in the seccomp profile, "
                                  "use either 'name' or 'names'")
        if not (_fits(rule.get("includes"), caps, go_arch, True) and
                _fits(rule.get("excludes"), caps, go_arch, False)):
            continue
        call: dict = {"names": [rule["name"]] if rule.get("name") else list(rule.get("names")
                                                                          or []),
                      "action": _action(rule.get("action"))}
        for a in rule.get("args") or []:
            if a.get("op") not in OPERATORS:
                raise InvalidArgument(f"invalid seccomp operator {a.get('op')!r}: use one of "
                                      f"{', '.join(OPERATORS)}")
            call.setdefault("args", []).append(
                {"index": int(a.get("index", 0)), "value": int(a.get("value", 0)),
                 "valueTwo": int(a.get("valueTwo", 0)), "op": a["op"]})
        if rule.get("errnoRet") is not None:
            call["errnoRet"] = int(rule["errnoRet"])
        calls.append(call)
    if calls:
        out["syscalls"] = calls
    return out
