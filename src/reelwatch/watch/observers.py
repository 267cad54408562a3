"""Which observer a volume gets: inotify where the path is local, polling where it is a share.

inotify (our own, see :mod:`reelwatch.watch.inotify`) only hands paths to the settler; it never
checks anything. It sees nothing written to an SMB or NFS mount by another machine, so shares
are polled with our own streaming scanner (see :mod:`reelwatch.watch.scan`) instead of watchdog's
PollingObserver, which keeps whole-tree snapshots in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

NETWORK_FS = ("cifs", "smb3", "smbfs", "nfs", "nfs4", "afs", "9p", "ceph", "glusterfs", "lustre")
WATCH_LIMIT_FILE = Path("/proc/sys/fs/inotify/max_user_watches")


@dataclass(frozen=True, slots=True)
class MountInfo:
    mountpoint: str
    fstype: str

    @property
    def is_network(self) -> bool:
        return self.fstype in NETWORK_FS or self.fstype.startswith("fuse.") or self.fstype == "fuse"


def mount_of(path: str, mounts_file: str = "/proc/self/mounts") -> MountInfo | None:
    """The mount that holds ``path`` (longest matching mount point), from the mount table."""
    target = os.path.realpath(path)
    best: MountInfo | None = None
    try:
        lines = Path(mounts_file).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        within = target == point or target.startswith(point.rstrip("/") + "/")
        if within and (best is None or len(point) > len(best.mountpoint)):
            best = MountInfo(point, fields[2])
    return best


def watch_limit() -> int | None:
    try:
        return int(WATCH_LIMIT_FILE.read_text().strip())
    except (OSError, ValueError):
        return None


def choose_observer(setting: str, root: str) -> tuple[str, str]:
    """(``inotify`` | ``polling``, reason). The reason is said in the log and in status.

    The watch limit is not guessed from ``/proc/sys/fs/inotify/max_user_watches`` (a container or
    user namespace can have a lower one that the sysctl does not show, and counting the folders
    cost a whole walk at every start): a watch the kernel refuses turns the volume to polling
    (see :mod:`reelwatch.watch.volumes`)."""
    if setting == "polling":
        return "polling", "configured"
    mount = mount_of(root)
    if setting == "auto" and mount is not None and mount.is_network:
        return "polling", f"{mount.fstype} share at {mount.mountpoint}: inotify cannot see other machines' writes"
    return "inotify", "local file system"
