"""Media: locating and running ffmpeg, probing files, media types, the edit.

Submodules are imported on demand (`from vfbuild.media.probe import probe`) so that importing
vfbuild stays fast; nothing here imports ffmpeg-python, PyAV or Pillow at import time.
"""
