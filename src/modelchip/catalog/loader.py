"""Load the hardware catalog: the bundled YAML files plus user directories (`--catalog`, MODELCHIP_CATALOG)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from modelchip.catalog.schema import ChipSpec, SystemSpec
from modelchip.errors import UserError, unknown_id
from modelchip.fileio import parse_model, read_structured

CATALOG_ENV = "MODELCHIP_CATALOG"


@dataclass(frozen=True)
class Catalog:
    """All chips and systems by id."""

    chips: dict[str, ChipSpec] = field(default_factory=dict)
    systems: dict[str, SystemSpec] = field(default_factory=dict)

    def chip(self, chip_id: str) -> ChipSpec:
        if chip_id not in self.chips:
            raise unknown_id("chip", chip_id, self.chips, "run `modelchip catalog list` for all ids")
        return self.chips[chip_id]

    def system(self, system_id: str) -> SystemSpec:
        if system_id not in self.systems:
            raise unknown_id("system", system_id, self.systems, "run `modelchip catalog list` for all ids")
        return self.systems[system_id]

    def resolve(self, hw_id: str) -> tuple[ChipSpec, SystemSpec | None]:
        """A chip id gives (chip, None); a system id gives (its chip, system)."""
        if hw_id in self.systems:
            system = self.systems[hw_id]
            return self.chip(system.chip), system
        if hw_id in self.chips:
            return self.chips[hw_id], None
        raise unknown_id("chip or system", hw_id, [*self.chips, *self.systems], "run `modelchip catalog list`")

    def default_system(self, chip_id: str) -> SystemSpec | None:
        """The smallest system built from `chip_id` (the box a chip usually ships in)."""
        candidates = [s for s in self.systems.values() if s.chip == chip_id]
        return min(candidates, key=lambda s: (s.chip_count, s.id)) if candidates else None


def _bundled_dir() -> Path:
    return Path(str(resources.files("modelchip.catalog") / "data"))


def _yaml_files(root: Path, sub: str) -> list[Path]:
    folder = root / sub
    return sorted(folder.glob("*.y*ml")) if folder.is_dir() else []


def _checked_id(spec_id: str, path: Path) -> str:
    if spec_id != path.stem:
        raise UserError(f"{path}: field 'id' is '{spec_id}' but the file name says '{path.stem}'; make them equal")
    return spec_id


def _load_dir(root: Path, chips: dict[str, ChipSpec], systems: dict[str, SystemSpec]) -> None:
    if not root.is_dir():
        raise UserError(f"{root}: catalog directory not found; pass an existing directory to --catalog")
    for path in _yaml_files(root, "chips"):
        chip = parse_model(ChipSpec, read_structured(path), str(path))
        chips[_checked_id(chip.id, path)] = chip
    for path in _yaml_files(root, "systems"):
        system = parse_model(SystemSpec, read_structured(path), str(path))
        systems[_checked_id(system.id, path)] = system


def _check_references(catalog: Catalog) -> None:
    for system in catalog.systems.values():
        if system.chip not in catalog.chips:
            raise unknown_id("chip", system.chip, catalog.chips, f"fix field 'chip' of system '{system.id}'")


@lru_cache(maxsize=8)
def _load(extra_dirs: tuple[str, ...]) -> Catalog:
    chips: dict[str, ChipSpec] = {}
    systems: dict[str, SystemSpec] = {}
    _load_dir(_bundled_dir(), chips, systems)
    for extra in extra_dirs:
        _load_dir(Path(extra), chips, systems)
    catalog = Catalog(chips=chips, systems=systems)
    _check_references(catalog)
    return catalog


def load_catalog(extra_dirs: tuple[str, ...] | None = None) -> Catalog:
    """The bundled catalog plus `extra_dirs` (default: the MODELCHIP_CATALOG path list). Later files win."""
    if extra_dirs is None:
        env = os.environ.get(CATALOG_ENV, "")
        extra_dirs = tuple(p for p in env.split(os.pathsep) if p)
    return _load(extra_dirs)
