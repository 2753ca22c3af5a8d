"""segq: submit and watch SinGAN-Seg jobs on a segq broker from Python.

    import segq
    c = segq.connect()                      # SEGQ_BROKER, keys as the CLI finds them
    job = c.submit("train", image="polyp.jpg", mask="polyp-mask.jpg", niter=2000, gpu_mem="4G")
    job.wait()                              # a progress bar; JobFailed if it fails
    gen = c.generate("polyp", count=50)     # a trained model, by name
    gen.wait()
    for image, mask in gen.pairs():         # numpy arrays
        ...

See docs/python.md for a walkthrough.
"""

from .client import DEFAULT_BROKER, Client, connect
from .errors import (
    AlreadyExists,
    AuthError,
    HashMismatch,
    InvalidArgument,
    JobFailed,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    ProtocolError,
    SegqError,
    StateError,
    Timeout,
    TooBig,
    Unavailable,
    UnknownKind,
    VersionError,
)
from .job import Artifact, Input, Job, JobStatus, Transition, wait_all
from .kinds import Kind, KindInput, KindParam
from .models import Gpu, Model, Worker

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BROKER",
    "AlreadyExists",
    "Artifact",
    "AuthError",
    "Client",
    "Gpu",
    "HashMismatch",
    "Input",
    "InvalidArgument",
    "Job",
    "JobFailed",
    "JobStatus",
    "Kind",
    "KindInput",
    "KindParam",
    "LimitExceeded",
    "Model",
    "NotFound",
    "PermissionDenied",
    "ProtocolError",
    "SegqError",
    "StateError",
    "Timeout",
    "TooBig",
    "Transition",
    "Unavailable",
    "UnknownKind",
    "VersionError",
    "Worker",
    "connect",
    "wait_all",
]
