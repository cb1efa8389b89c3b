"""Every registered backend declares itself completely, and the declarations agree with pyproject."""

import dataclasses
import tomllib
from pathlib import Path

import pytest

from trtbench import backends
from trtbench.backends.base import BackendConfig
from trtbench.errors import TrtbenchError
from trtbench.graphs.precision import PRECISIONS

NAMES = backends.backend_names()[1:]
PYPROJECT = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_declaration_is_complete(name):
    cls = backends.backend_class(name)
    assert cls.name == name
    assert issubclass(cls.config_class, BackendConfig) and dataclasses.is_dataclass(cls.config_class)
    assert cls.precisions and set(cls.precisions) <= set(PRECISIONS)
    assert cls.can_time or cls.can_infer
    for field in dataclasses.fields(cls.config_class):
        assert field.metadata.get("help"), f"{name}.{field.name} has no help"
    assert cls.checks(), f"{name} gives doctor nothing to check"


def _names(requirements):
    return {requirement.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip() for requirement in requirements}


@pytest.mark.parametrize("name", [n for n in NAMES if backends.backend_class(n).extra])
def test_the_extra_a_backend_names_exists_and_every_package_it_uses_comes_from_pyproject(name):
    cls = backends.backend_class(name)
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert cls.extra in extras
    brought = _names(PYPROJECT["project"]["dependencies"]).union(*(_names(r) for r in extras.values()))
    assert set(cls.packages) <= brought


def test_every_backend_option_reaches_the_command_line():
    from trtbench.cli.run import run
    from trtbench.cli.verify import verify

    for command in (run, verify):
        offered = {param.name for param in command.params}
        assert set(backends.declared_options()) <= offered


def test_shared_options_are_declared_alike_or_refused():
    from trtbench.backends.base import Backend, option

    @dataclasses.dataclass(frozen=True)
    class Clashing(BackendConfig):
        cuda_graph: bool = option(True, "the opposite default of tensorrt's")

    class ClashingBackend(Backend):
        name = "clashing"
        config_class = Clashing

    backends.register("clashing", ClashingBackend)
    try:
        with pytest.raises(TypeError, match="declares option cuda_graph unlike tensorrt"):
            backends.declared_options()
    finally:
        backends.unregister("clashing")


def test_unknown_backend_is_a_user_error():
    with pytest.raises(TrtbenchError, match="unknown backend 'tensorflow': choose from auto, tensorrt"):
        backends.backend_class("tensorflow")
