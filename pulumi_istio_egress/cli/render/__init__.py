"""Offline renderer: run a Pulumi Python program under Pulumi's mock engine and emit kubectl-ready YAML.

The program runs in-process exactly as the Python language host would run it (``runpy`` inside
``run_in_stack``), with its stack configuration applied, against a mock resource monitor that
records every registration. No Pulumi CLI, engine, provider plugin or cluster is involved, so
the result is what the program *declares*, not what a provider would do with it.
"""


from .engine import autoname
from .errors import RenderError
from .objects import RenderedObject, render_program
from .yaml_output import object_file_name, to_yaml

__all__ = ["RenderError", "RenderedObject", "autoname", "object_file_name", "render_program", "to_yaml"]
