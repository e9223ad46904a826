"""Kernel confinement for the sandbox's user-code process: a seccomp-bpf filter and a Landlock ruleset.

Both are installed with plain ``ctypes`` system calls (no libseccomp, no extra package), so they work
wherever the kernel supports them (seccomp filters: Linux 3.5+; Landlock: 5.13+ and enabled). Only
the sandbox worker calls :func:`install_seccomp` / :func:`install_landlock`, in the process that is about
to run pasted code, after ``fork`` and before any user code. The server only *probes* them
(:func:`seccomp_available`, :func:`landlock_abi`) and makes itself non-dumpable (:func:`set_non_dumpable`).

The seccomp filter (x86-64 and aarch64) answers ``EPERM`` to:

* signalling any process but itself: ``kill``/``tgkill``/``rt_(tg)sigqueueinfo`` unless the target is the
  caller's own pid, ``tkill``, ``pidfd_send_signal``, ``pidfd_getfd``;
* ``ptrace``, ``process_vm_readv``/``writev``, ``kcmp``, ``process_madvise``;
* sockets of every family but ``AF_UNIX`` (so no IPv4/IPv6, raw, netlink or vsock sockets), and io_uring
  (which could open sockets behind the filter's back);
* changing another process's limits or scheduling (``prlimit64``, ``sched_set*``, ``setpriority``,
  ``ioprio_set``, ``migrate_pages``/``move_pages`` on another pid);
* changing the owner or extended attributes of any file (``chown`` family, ``*setxattr``,
  ``*removexattr``), which Landlock does not cover; changing a file's mode or times (``chmod`` and
  ``utime`` families) is accepted and does nothing;
* making the kernel signal another process on I/O: ``fcntl`` ``F_SETOWN``/``F_SETOWN_EX``/``F_SETSIG`` and
  the ``ioctl`` requests ``FIOSETOWN``/``SIOCSPGRP``/``TIOCSPGRP`` (and ``TIOCSTI``);
* namespaces and mounts (``unshare``, ``setns``, ``clone`` with ``CLONE_NEW*``, ``mount`` & co.; ``clone3``
  gets ``ENOSYS`` so that libc falls back to ``clone``, whose flags the filter can read);
* administration: modules, kexec, reboot, swap, clocks, keyrings, bpf, perf events, userfaultfd, ...

A syscall from a foreign ABI (i386 ``int 0x80``, x32) kills the process.

The Landlock ruleset (when the kernel has it) lets the process read and execute files only under the
given read-only roots (the Python installation, the project, system directories), write only in its
own work directory (and ``/dev/null``), open no TCP connections (ABI 4+), and signal or connect to
abstract Unix sockets of no process outside its sandbox (ABI 6+). Landlock also stops it from
``ptrace``-ing (and so from reading ``/proc/<pid>/environ`` or ``mem`` of) any process outside it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import struct
from collections.abc import Iterable, Sequence
from typing import TypedDict

__all__ = [
    "seccomp_available",
    "install_seccomp",
    "landlock_abi",
    "install_landlock",
    "set_no_new_privs",
    "set_non_dumpable",
    "set_child_subreaper",
    "become_user",
    "clear_capabilities",
    "mount_private_tmpfs",
    "ConfinementError",
]


class ConfinementError(OSError):
    """A protection could not be installed."""


_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
SECCOMP_FILTER_FLAG_TSYNC = 1

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARGS = 16  # args[i] low 32 bits at 16 + 8*i on little-endian machines

AF_UNIX = 1
_CLONE_NAMESPACES = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000
                     | 0x40000000 | 0x00000080)  # NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET NEWTIME

# Syscall numbers: x86-64 (arch/x86/entry/syscalls) and aarch64 (asm-generic/unistd.h).
class _ArchSpec(TypedDict):
    """One architecture's seccomp facts: its audit id, the x32 syscall bit (None: none), seccomp's number, syscalls."""

    audit: int
    x32_bit: int | None
    seccomp: int
    nr: dict[str, int]


_ARCHES: dict[str, _ArchSpec] = {
    "x86_64": {
        "audit": 0xC000003E,
        "x32_bit": 0x40000000,
        "seccomp": 317,
        "nr": {
            "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
            "pidfd_send_signal": 424, "pidfd_getfd": 438, "ptrace": 101, "process_vm_readv": 310,
            "process_vm_writev": 311, "socket": 41, "io_uring_setup": 425, "io_uring_enter": 426,
            "io_uring_register": 427, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
            "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
            "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168, "mount": 165, "umount2": 166,
            "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308, "keyctl": 250, "add_key": 248,
            "request_key": 249, "acct": 163, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305,
            "adjtimex": 159, "open_by_handle_at": 304, "name_to_handle_at": 303, "kcmp": 312,
            "process_madvise": 440, "process_mrelease": 448, "prlimit64": 302, "setpriority": 141,
            "ioprio_set": 251, "sched_setaffinity": 203, "sched_setscheduler": 144, "sched_setparam": 142,
            "sched_setattr": 314, "migrate_pages": 256, "move_pages": 279, "clone": 56, "clone3": 435,
            "fanotify_init": 300, "mount_setattr": 442, "move_mount": 429, "open_tree": 428, "fsopen": 430,
            "fsconfig": 431, "fsmount": 432, "fspick": 433, "quotactl": 179, "vhangup": 153, "syslog": 103,
            "iopl": 172, "ioperm": 173,
            "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "fchown": 93,
            "lchown": 94, "fchownat": 260, "utime": 132, "utimes": 235, "utimensat": 280, "futimesat": 261,
            "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198,
            "fremovexattr": 199, "setxattrat": 463, "removexattrat": 466, "fcntl": 72, "ioctl": 16,
        },
    },
    "aarch64": {
        "audit": 0xC00000B7,
        "x32_bit": None,
        "seccomp": 277,
        "nr": {
            "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240,
            "pidfd_send_signal": 424, "pidfd_getfd": 438, "ptrace": 117, "process_vm_readv": 270,
            "process_vm_writev": 271, "socket": 198, "io_uring_setup": 425, "io_uring_enter": 426,
            "io_uring_register": 427, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
            "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
            "delete_module": 106, "reboot": 142, "swapon": 224, "swapoff": 225, "mount": 40, "umount2": 39,
            "pivot_root": 41, "chroot": 51, "unshare": 97, "setns": 268, "keyctl": 219, "add_key": 217,
            "request_key": 218, "acct": 89, "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266,
            "adjtimex": 171, "open_by_handle_at": 265, "name_to_handle_at": 264, "kcmp": 272,
            "process_madvise": 440, "process_mrelease": 448, "prlimit64": 261, "setpriority": 140,
            "ioprio_set": 30, "sched_setaffinity": 122, "sched_setscheduler": 119, "sched_setparam": 118,
            "sched_setattr": 274, "migrate_pages": 238, "move_pages": 239, "clone": 220, "clone3": 435,
            "fanotify_init": 262, "mount_setattr": 442, "move_mount": 429, "open_tree": 428, "fsopen": 430,
            "fsconfig": 431, "fsmount": 432, "fspick": 433, "quotactl": 60, "vhangup": 58, "syslog": 116,
            "fchmod": 52, "fchmodat": 53, "fchmodat2": 452, "fchown": 55, "fchownat": 54, "utimensat": 88,
            "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15,
            "fremovexattr": 16, "setxattrat": 463, "removexattrat": 466, "fcntl": 25, "ioctl": 29,
        },
    },
}
_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}

_DENY_ALWAYS = (
    "tkill", "pidfd_send_signal", "pidfd_getfd", "ptrace", "process_vm_readv", "process_vm_writev",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open", "userfaultfd",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
    "swapoff", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "keyctl", "add_key",
    "request_key", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "open_by_handle_at",
    "name_to_handle_at", "kcmp", "process_madvise", "process_mrelease", "setpriority", "ioprio_set",
    "fanotify_init", "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "quotactl", "vhangup", "syslog", "iopl", "ioperm",
    # file metadata Landlock does not cover: owners and extended attributes of the server user's files
    "chown", "fchown", "lchown", "fchownat", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
    "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
)
# Modes and times (not covered by Landlock either) are *ignored*: the call returns 0 and changes nothing.
# Refusing them would break innocent code (``shutil.copy`` copies the mode; Inductor's C++ builds chmod
# their output), while a no-op keeps every file exactly as it was.
_IGNORE_ALWAYS = ("chmod", "fchmod", "fchmodat", "fchmodat2", "utime", "utimes", "utimensat", "futimesat")
F_SETOWN = 8
F_SETSIG = 10
F_SETOWN_EX = 15
#: fcntl commands that would make the kernel signal another process (SIGIO/SIGURG to an owner)
DENIED_FCNTL = (F_SETOWN, F_SETSIG, F_SETOWN_EX)
FIOSETOWN = 0x8901
SIOCSPGRP = 0x8902
TIOCSPGRP = 0x5410
TIOCSTI = 0x5412
#: ioctl requests that set a signal owner (or push input into a terminal)
DENIED_IOCTL = (FIOSETOWN, SIOCSPGRP, TIOCSPGRP, TIOCSTI)
# (syscall, argument index, allowed values besides the caller's own pid)
_ONLY_SELF = (
    ("kill", 0, ()), ("tgkill", 0, ()), ("rt_sigqueueinfo", 0, ()), ("rt_tgsigqueueinfo", 0, ()),
    ("prlimit64", 0, (0,)), ("sched_setaffinity", 0, (0,)), ("sched_setscheduler", 0, (0,)),
    ("sched_setparam", 0, (0,)), ("sched_setattr", 0, (0,)), ("migrate_pages", 0, (0,)),
    ("move_pages", 0, (0,)),
)


def _machine() -> str:
    m = platform.machine().lower()
    return _ARCH_ALIASES.get(m, m)


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _ret(value: int) -> bytes:
    return _ins(_RET_K, value)


def build_filter(pid: int, *, arch: str | None = None) -> bytes:
    """The BPF program (bytes of ``struct sock_filter``) for a process whose pid is ``pid``."""
    spec = _ARCHES[arch or _machine()]
    nr = spec["nr"]
    eperm = _ret(SECCOMP_RET_ERRNO | errno.EPERM)
    allow = _ret(SECCOMP_RET_ALLOW)
    prog: list[bytes] = [
        _ins(_LD_W_ABS, _OFF_ARCH),
        _ins(_JEQ_K, spec["audit"], jt=1, jf=0),
        _ret(SECCOMP_RET_KILL_PROCESS),
        _ins(_LD_W_ABS, _OFF_NR),
    ]
    if spec["x32_bit"]:
        prog += [_ins(_JGE_K, spec["x32_bit"], jt=0, jf=1), _ret(SECCOMP_RET_KILL_PROCESS)]

    def rule(name: str, block: list[bytes]) -> None:
        if name not in nr:
            return
        prog.append(_ins(_JEQ_K, nr[name], jt=0, jf=len(block)))
        prog.extend(block)

    for name in _DENY_ALWAYS:
        rule(name, [eperm])
    for name in _IGNORE_ALWAYS:
        rule(name, [_ret(SECCOMP_RET_ERRNO | 0)])
    for name, denied in (("fcntl", DENIED_FCNTL), ("ioctl", DENIED_IOCTL)):
        block = [_ins(_LD_W_ABS, _OFF_ARGS + 8)]  # the command: args[1]
        for i, v in enumerate(denied):
            block.append(_ins(_JEQ_K, v, jt=len(denied) - i, jf=0))  # equal: jump to eperm, past allow
        block += [allow, eperm]
        rule(name, block)
    for name, idx, extra in _ONLY_SELF:
        values = (pid, *extra)
        block = [_ins(_LD_W_ABS, _OFF_ARGS + 8 * idx)]
        for i, v in enumerate(values):
            # jump to "allow" (the last instruction of the block) when equal
            block.append(_ins(_JEQ_K, v, jt=len(values) - i, jf=0))
        block += [eperm, allow]
        rule(name, block)
    rule("socket", [_ins(_LD_W_ABS, _OFF_ARGS), _ins(_JEQ_K, AF_UNIX, jt=1, jf=0), eperm, allow])
    rule("clone", [_ins(_LD_W_ABS, _OFF_ARGS), _ins(_JSET_K, _CLONE_NAMESPACES, jt=0, jf=1), eperm, allow])
    rule("clone3", [_ret(SECCOMP_RET_ERRNO | errno.ENOSYS)])
    prog.append(allow)
    return b"".join(prog)


def seccomp_available() -> tuple[bool, str]:
    """Whether this kernel and machine can take the filter (probed without installing anything)."""
    arch = _machine()
    if arch not in _ARCHES:
        return False, f"no syscall table for {arch}"
    if _libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0:
        return False, "the kernel has no seccomp support"
    action = ctypes.c_uint32(SECCOMP_RET_ERRNO)
    r = _libc.syscall(ctypes.c_long(_ARCHES[arch]["seccomp"]), ctypes.c_long(SECCOMP_GET_ACTION_AVAIL),
                      ctypes.c_long(0), ctypes.byref(action))
    if r != 0:
        e = ctypes.get_errno()
        if e == errno.ENOSYS:
            return False, "the kernel has no seccomp() system call"
    return True, f"seccomp-bpf ({arch})"


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def set_no_new_privs() -> None:
    """``prctl(PR_SET_NO_NEW_PRIVS, 1)``: exec can never gain privileges again (needed by both filters)."""
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        e = ctypes.get_errno()
        raise ConfinementError(e, f"PR_SET_NO_NEW_PRIVS: {os.strerror(e)}")


def install_seccomp(pid: int | None = None) -> None:
    """Install the filter on the calling process (all its threads); irreversible.

    Raises:
        ConfinementError: when the kernel refuses it.
    """
    arch = _machine()
    if arch not in _ARCHES:
        raise ConfinementError(errno.ENOSYS, f"seccomp: no syscall table for {arch}")
    code = build_filter(os.getpid() if pid is None else pid, arch=arch)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    set_no_new_privs()
    r = _libc.syscall(ctypes.c_long(_ARCHES[arch]["seccomp"]), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                      ctypes.c_long(SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(prog))
    if r != 0:
        e = ctypes.get_errno()
        if e == errno.ENOSYS:  # very old kernel: prctl works on the calling thread
            r = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0)
            e = ctypes.get_errno() if r != 0 else 0
        if r != 0:
            raise ConfinementError(e, f"seccomp: {os.strerror(e)}")


# --------------------------------------------------------------------------- Landlock

_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
_FS_ALL_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: not available)."""
    r = _libc.syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_long(0),
                      ctypes.c_long(_LANDLOCK_CREATE_RULESET_VERSION))
    return int(r) if r > 0 else 0


def install_landlock(*, read_roots: Iterable[str], write_roots: Sequence[str], write_files: Sequence[str] = ()) -> int:
    """Restrict the calling process (irreversibly) to reading ``read_roots`` and writing ``write_roots``.

    Returns:
        The ABI version used.

    Raises:
        ConfinementError: Landlock missing or refused.
    """
    abi = landlock_abi()
    if abi <= 0:
        raise ConfinementError(errno.ENOSYS, "Landlock is not available in this kernel")
    fs_all = _FS_ALL_BY_ABI.get(abi, _FS_ALL_BY_ABI[5])
    attr = _RulesetAttr(handled_access_fs=fs_all)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset = _libc.syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr), ctypes.c_long(size),
                            ctypes.c_long(0))
    if ruleset < 0:
        e = ctypes.get_errno()
        raise ConfinementError(e, f"landlock_create_ruleset: {os.strerror(e)}")
    try:
        read = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
        rules: list[tuple[str, int]] = [(p, read) for p in read_roots]
        rules += [(p, fs_all) for p in write_roots]
        rules += [(p, (read | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV) & fs_all) for p in write_files]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a root that does not exist here
            try:
                if not os.path.isdir(path):
                    access &= _FILE_RIGHTS
                rule = _PathBeneath(allowed_access=access & fs_all, parent_fd=fd)
                if _libc.syscall(ctypes.c_long(_SYS_LANDLOCK_ADD_RULE), ctypes.c_long(ruleset),
                                 ctypes.c_long(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_long(0)) != 0:
                    e = ctypes.get_errno()
                    raise ConfinementError(e, f"landlock_add_rule({path}): {os.strerror(e)}")
            finally:
                os.close(fd)
        set_no_new_privs()
        if _libc.syscall(ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_long(ruleset), ctypes.c_long(0)) != 0:
            e = ctypes.get_errno()
            raise ConfinementError(e, f"landlock_restrict_self: {os.strerror(e)}")
    finally:
        os.close(ruleset)
    return abi


# --------------------------------------------------------------------------- prctl helpers


def set_non_dumpable() -> bool:
    """``prctl(PR_SET_DUMPABLE, 0)``: no core dumps, and processes of the same user cannot read this
    process's ``/proc/<pid>/environ`` or memory, nor ptrace it. Returns whether it worked."""
    return _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def set_child_subreaper() -> bool:
    """``prctl(PR_SET_CHILD_SUBREAPER, 1)``: orphaned descendants (even double-forked, ``setsid`` daemons)
    are re-parented to this process instead of init, so it can find and kill them. Returns whether it worked."""
    return _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


# --------------------------------------------------------------------------- users and capabilities

PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAP_DAC_READ_SEARCH = 2
_CAP_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _capset(mask: int) -> None:
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = data[0].inheritable = mask & 0xFFFFFFFF
    if _libc.capset(ctypes.byref(header), data) != 0:
        e = ctypes.get_errno()
        raise ConfinementError(e, f"capset: {os.strerror(e)}")


def become_user(uid: int, *, keep_read_search: bool) -> None:
    """From root, become ``uid`` (no groups, no capabilities).

    With ``keep_read_search`` the process keeps only ``CAP_DAC_READ_SEARCH`` (also across exec): it can
    still read the Python installation when that lies in a directory closed to other users (e.g. a
    pyenv under ``/root``). Only use it together with Landlock, which then decides what may be read.
    """
    if keep_read_search and _libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
        keep_read_search = False
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if keep_read_search:
        _capset(1 << CAP_DAC_READ_SEARCH)
        _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0)
        _libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)


def clear_capabilities() -> None:
    """Drop every capability (effective, permitted, inheritable, ambient)."""
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _capset(0)


# --------------------------------------------------------------------------- a size-capped work directory

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]


def _check(r: int, what: str) -> None:
    if r != 0:
        e = ctypes.get_errno()
        raise ConfinementError(e, f"{what}: {os.strerror(e)}")


def _write_proc(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def mount_private_tmpfs(path: str, *, size_bytes: int, inodes: int, uid: int) -> str:
    """Cover ``path`` with a size-capped tmpfs, visible only to this process and its descendants.

    The calling process moves to a private mount namespace (as root), or to a new user + mount
    namespace that maps only its own uid (as an ordinary user, where the kernel allows unprivileged
    user namespaces), and mounts a tmpfs of ``size_bytes`` and at most ``inodes`` files on ``path``,
    owned by ``uid``. A write past the cap fails with ``ENOSPC`` at once (no polling), and the files
    vanish with the last process of the namespace. Call it in a process that then only forks the
    confined user process (which must drop the capabilities a new user namespace gives).

    Returns:
        A short description (``"tmpfs 64 MB (mount namespace)"``).

    Raises:
        ConfinementError: the namespace or the mount was refused (the caller falls back to polling).
    """
    outer_uid, outer_gid = os.getuid(), os.getgid()
    how = "mount namespace"
    if outer_uid == 0:
        _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    else:
        # a non-dumpable process's /proc/self files belong to root: it could not write its own id maps
        dumpable = _libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        try:
            _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(CLONE_NEWUSER|CLONE_NEWNS)")
            _write_proc("/proc/self/setgroups", "deny")
            _write_proc("/proc/self/uid_map", f"{outer_uid} {outer_uid} 1\n")
            _write_proc("/proc/self/gid_map", f"{outer_gid} {outer_gid} 1\n")
        except OSError as e:
            raise ConfinementError(e.errno or errno.EPERM, f"user namespace: {e}") from None
        finally:
            _libc.prctl(PR_SET_DUMPABLE, dumpable if dumpable >= 0 else 0, 0, 0, 0)
        how = "user + mount namespace"
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount(/, MS_PRIVATE)")
    gid = uid if outer_uid == 0 else outer_gid
    opts = f"size={max(1, size_bytes // 1024)}k,nr_inodes={max(16, inodes)},mode=0700,uid={uid},gid={gid}"
    _check(_libc.mount(b"jx-sandbox", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts.encode()),
           f"mount tmpfs on {path}")
    return f"tmpfs {size_bytes // (1024 * 1024)} MB ({how})"
