"""The declarative input: pydantic models of shots.yaml, loading with positions, prompts.

Import from the submodules (`vfbuild.spec.load`, `vfbuild.spec.prompt`, …); this package
imports nothing so that `import vfbuild.spec.models` stays cheap.
"""
