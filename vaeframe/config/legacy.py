"""Keys that moved, and run directories written by older versions of vaeframe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vaeframe.config.converter import Blame
from vaeframe.registry.kinds import KINDS

#: keys of run files written before models and losses became components: (old, new)
MOVED_KEYS = {"model.focal_gamma": "loss.gamma", "model.recon_reduction": "loss.reduction"}


def check_moved_keys(raw: Mapping[str, Any], blame: Blame) -> None:
    """A run file in the layout before ``[loss]`` existed gets one error per moved key."""
    for old, new in MOVED_KEYS.items():
        section, key = old.split(".")
        table = raw.get(section)
        if isinstance(table, Mapping) and key in table:
            new_section, new_key = new.split(".")
            raise blame.error(old, f"has moved: set {new_key} in a [{new_section}] section "
                                   f"({new} = {table[key]!r}); [model] now holds only the "
                                   "architecture")


def upgrade_run_dir_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A run directory's config.toml written by vaeframe 0.1 (focal-loss keys in ``[model]``,
    no ``[loss]``) in today's layout; a current one is returned unchanged."""
    model = raw.get("model")
    if not isinstance(model, dict) or "loss" in raw or "name" in model:
        return raw
    upgraded = {**raw, "model": {k: v for k, v in model.items()
                                 if f"model.{k}" not in MOVED_KEYS}}
    upgraded["model"]["name"] = KINDS["models"].default
    loss = {new.split(".")[1]: model[old.split(".")[1]] for old, new in MOVED_KEYS.items()
            if old.split(".")[1] in model}
    upgraded["loss"] = {"name": KINDS["losses"].default, **loss}
    return upgraded
