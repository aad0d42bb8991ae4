"""Keys that moved, and run directories written by older versions of vaeframe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vaeframe.config.converter import Blame
from vaeframe.registry.kinds import KINDS

#: keys of run files written before models, losses and optimizers became components:
#: old key -> (new key, what the old section holds now)
MOVED_KEYS = {
    "model.focal_gamma": ("loss.gamma", "[model] now holds only the architecture"),
    "model.recon_reduction": ("loss.reduction", "[model] now holds only the architecture"),
    "train.lr": ("optimizer.lr", "the optimizer is a component of its own"),
    "train.weight_decay": ("optimizer.weight_decay", "the optimizer is a component of its own"),
}


def check_moved_keys(raw: Mapping[str, Any], blame: Blame) -> None:
    """A run file in an older layout gets one error for its first moved key."""
    for old, (new, why) in MOVED_KEYS.items():
        section, key = old.split(".")
        table = raw.get(section)
        if isinstance(table, Mapping) and key in table:
            new_section, new_key = new.split(".")
            raise blame.error(old, f"has moved: set {new_key} in the [{new_section}] section "
                                   f"({new} = {table[key]!r}); {why}")


def _moved_out(raw: dict[str, Any], section: str, into: str) -> dict[str, Any]:
    """The values of ``raw``'s moved keys from ``section`` into the section ``into``."""
    table = raw.get(section) or {}
    return {new.split(".")[1]: table[old.split(".")[1]]
            for old, (new, _) in MOVED_KEYS.items()
            if old.startswith(f"{section}.") and new.startswith(f"{into}.")
            and old.split(".")[1] in table}


def upgrade_run_dir_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A run directory's config.toml written by an older vaeframe in today's layout: 0.1's
    focal-loss keys in ``[model]`` (no ``[loss]``), and ``train.lr`` and
    ``train.weight_decay`` from before ``[optimizer]``; a current one is returned unchanged."""
    upgraded = dict(raw)
    model = raw.get("model")
    if isinstance(model, dict) and "loss" not in raw and "name" not in model:
        upgraded["model"] = {k: v for k, v in model.items() if f"model.{k}" not in MOVED_KEYS}
        upgraded["model"]["name"] = KINDS["models"].default
        upgraded["loss"] = {"name": KINDS["losses"].default,
                            **_moved_out(raw, "model", "loss")}
    train = raw.get("train")
    if isinstance(train, dict) and "optimizer" not in raw:
        upgraded["train"] = {k: v for k, v in train.items() if f"train.{k}" not in MOVED_KEYS}
        upgraded["optimizer"] = {"name": KINDS["optimizers"].default,
                                 **_moved_out(raw, "train", "optimizer")}
    return upgraded
