"""Media: locating and running ffmpeg, probing files, the local previz renderers, the edit.

Submodules are imported on demand (`from vfbuild.media.probe import probe`) so that importing
vfbuild stays fast; nothing here imports ffmpeg-python, PyAV or Pillow at import time.
"""
