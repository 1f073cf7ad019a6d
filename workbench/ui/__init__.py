"""Widgets: thin views over the core. The only package that imports ipywidgets; import submodules directly."""
