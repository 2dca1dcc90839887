"""Releasing pyrender offscreen renderers without breaking the others of the process (EGL)."""

#: OffscreenRenderers whose EGL context died because another renderer terminated the shared display (pyrender's
#: ``OffscreenRenderer.delete``, e.g. in another library). Kept alive on purpose: their finalisers would issue GL
#: deletes of stale object ids on whatever context is current.
_ORPHANS = []


def offscreen_context_alive(offscreen) -> bool:
    """Make the renderer's context current; False when its display was terminated under it."""
    try:
        offscreen._platform.make_current()
        return True
    except Exception:
        return False


def release_offscreen_renderer(offscreen) -> None:
    """Free an OffscreenRenderer's GL objects and its EGL context without ``eglTerminate``.

    ``OffscreenRenderer.delete`` terminates the process-wide default EGL display, which invalidates every other live
    EGL context (an open :class:`~hoirecon.visualization.MeshRenderer` or
    :class:`~hoirecon.synthetic.render.HOIRenderer` then fails with ``EGL_BAD_DISPLAY``). Here only this renderer's
    context is destroyed; the display stays initialised (one per process, nothing accumulates). Other platforms
    (OSMesa, pyglet) use pyrender's own teardown.
    """
    platform = getattr(offscreen, '_platform', None)
    if platform is None:
        return
    context = getattr(platform, '_egl_context', None)
    display = getattr(platform, '_egl_display', None)
    if context is None or display is None:
        offscreen.delete()
        return
    if not offscreen_context_alive(offscreen):
        keep_orphan(offscreen)
        return
    from OpenGL.EGL import EGL_NO_CONTEXT, EGL_NO_SURFACE, eglDestroyContext, eglMakeCurrent
    try:
        offscreen._renderer.delete()  # shaders, vertex buffers, framebuffers (the context is current)
    finally:
        eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT)
        eglDestroyContext(display, context)
        platform._egl_context = None
        platform._egl_display = None
        # pyrender's __del__ would call delete() (and eglTerminate): leave it nothing to do
        offscreen._renderer = None
        offscreen._platform = None


def keep_orphan(offscreen) -> None:
    """Keep a renderer whose EGL context died (its display was terminated by someone else) from being finalised."""
    _ORPHANS.append(offscreen)
