"""Who owns a finding: the volume a file is on, and whether it is a delivery volume.

The rules share one convention: on a volume of kind ``delivery`` the sender (normally the VFX
vendor) fixes what is wrong; elsewhere the volume's ``owner`` (the DIT by default) does. Each
rule family applies it its own way, on purpose and as docs/rules.md documents: spec profiles
use :func:`default_owner`; naming templates on a delivery volume pick VFX or editorial by the
template's fields; version rules leave the owner off the finding (the pipeline fills in the
volume's) except on delivery volumes; sequence rules name the DIT except on delivery volumes;
integrity findings always go to the DIT, permissions findings to the admin. These helpers answer
the shared questions and accept anything as ``config``: without a ``volume`` method there is
no volume, hence no delivery.
"""

from __future__ import annotations

from typing import Any

from .config import Volume

__all__ = ["default_owner", "is_delivery", "volume_of", "volume_owner"]


def volume_of(config: Any, name: str) -> Volume | None:
    """The volume called ``name`` in ``config``; None when there is none."""
    return config.volume(name) if hasattr(config, "volume") else None


def is_delivery(config: Any, name: str) -> bool:
    """True when the volume called ``name`` is a ``delivery`` volume."""
    volume = volume_of(config, name)
    return volume is not None and getattr(volume, "kind", None) == "delivery"


def volume_owner(config: Any, name: str) -> str:
    """The ``owner`` of the volume called ``name`` (``dit`` when there is none)."""
    volume = volume_of(config, name)
    return volume.owner if volume is not None else "dit"


def default_owner(config: Any, name: str) -> str:
    """``vfx`` on a delivery volume, else the volume's owner."""
    return "vfx" if is_delivery(config, name) else volume_owner(config, name)
