"""Whether TensorRT can be imported here, and one actionable message when it cannot.

Polygraphy's convention (NVIDIA/TensorRT ``tools/Polygraphy``): optional heavy imports happen inside
functions, and a missing dependency is a :class:`~tnas_pipeline.errors.UserError` whose one line
says how to install it. TensorRT ships as pip wheels for desktop and server GPUs; on a Jetson it is
part of JetPack (JetPack 6.1 and 6.2 ship TensorRT 10.3, per NVIDIA's JetPack release notes) and
cannot be pip-installed.
"""

from __future__ import annotations

from types import ModuleType

from tnas_pipeline.errors import UserError

INSTALL_HINT = (
    "TensorRT is not installed: on a desktop or server GPU run `pip install tensorrt cuda-python` "
    "(or `pip install -e \".[trt]\"`); on a Jetson it comes with JetPack "
    "(`sudo apt install nvidia-tensorrt`, Python bindings `python3-libnvinfer`; "
    "JetPack 6 ships TensorRT 10.3)"
)


def require_tensorrt() -> ModuleType:
    """Import and return the ``tensorrt`` module.

    Raises:
        UserError: TensorRT is not installed, or is installed but its libraries fail to load.
    """
    try:
        import tensorrt
    except ImportError as e:
        if e.name == "tensorrt":
            raise UserError(INSTALL_HINT) from None
        # The package is there but a library or submodule it needs is not (a partial install).
        raise UserError(f"TensorRT is installed but failed to import ({_one_line(e)}); reinstall "
                        "it (`pip install --force-reinstall tensorrt`, or JetPack on a Jetson)"
                        ) from None
    except OSError as e:
        raise UserError(f"TensorRT is installed but its libraries failed to load "
                        f"({_one_line(e)}); reinstall it, or on a Jetson check the JetPack "
                        "install") from None
    return tensorrt


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def tensorrt_version() -> str | None:
    """The installed TensorRT version, or ``None`` where it cannot be imported."""
    try:
        return str(require_tensorrt().__version__)
    except UserError:
        return None


def trt_major() -> int:
    """Major version of the installed TensorRT (10 on JetPack 6; 11 removed weak typing).

    Raises:
        UserError: TensorRT cannot be imported.
    """
    return int(str(require_tensorrt().__version__).split(".")[0])
