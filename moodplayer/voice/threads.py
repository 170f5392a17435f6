"""How many CPU threads inference uses, chosen by the product rather than the caller's environment.

One clip is a few milliseconds of work on small matrices: a second thread
has little to share and must wait for a core whenever anything else runs (a
browser, the music moodplayer itself plays), and an OpenMP or OpenBLAS
thread that waits for its partner stalls the whole clip. One thread for torch
and for the BLAS behind feature extraction is the fastest idle and by far the
fastest beside busy programs (measured: docs/experiments.md, speed).
Training sets its own count.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: Threads for torch's operators and for the BLAS and OpenMP libraries that feature extraction calls.
INFERENCE_THREADS = 1


def use_inference_threads() -> None:
    """Run torch and every BLAS/OpenMP library loaded so far on :data:`INFERENCE_THREADS` threads.

    Called where a model is loaded for inference, once torch and numpy are
    loaded: the BLAS limits reach the libraries loaded at the time of the call.
    Torch's setting holds for every thread of the process that has not run an
    operator yet (``listen`` loads the model in one thread and predicts in another).
    """
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    torch.set_num_threads(INFERENCE_THREADS)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)  # no inter-op parallelism to give a thread to
        except RuntimeError:
            pass  # torch refuses once it was set or inter-op work has run: the pool stays as it is
    threadpool_limits(INFERENCE_THREADS)
    if log.isEnabledFor(logging.DEBUG):
        pools = ", ".join(f"{pool['internal_api']} {pool['num_threads']}" for pool in threadpool_info())
        log.debug("inference threads: torch %d, %s", torch.get_num_threads(), pools)
