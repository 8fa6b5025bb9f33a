"""The checks of a whole environment that need what is derived from it, run after the model's.

The model (`config/schema.py`) validates every field and the rules between fields; it imports
only `config/rules.py`. Two checks need more: the profile's task table (`config/profiles.py`)
and the physical names the stacks derive (`config/names.py`), and both of those build on the
model. Every path that makes an environment runs them here, after the model, in this order: the
loader (`config/loader.py`, where a problem becomes `<file>: <field>: <message>; got <value>`)
and the generated environments of tests and benchmarks (`config/generated.py`).
"""

from __future__ import annotations

from config.names import derived_name_problems
from config.profiles import task_bounds_problem
from config.schema import EnvironmentConfig, FieldError


def checked(environment: EnvironmentConfig) -> EnvironmentConfig:
    """The environment, or a FieldError for the first problem (the field is the model's)."""
    if (problem := task_bounds_problem(environment)) is not None:
        raise problem
    for field, message, value in derived_name_problems(environment):
        raise FieldError(field, message, value)
    return environment
