"""Random draws keyed by subscriber block, so the output does not depend on the chunk size.

Subscribers are grouped in fixed blocks of BLOCK_SUBSCRIBERS; each block owns one generator seeded
by (seed, block). A chunk is a run of whole blocks and every draw is split block by block, so
generating 1 chunk or 50 chunks produces the very same subscribers and events.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BLOCK_SUBSCRIBERS = 256


class SubscriberRandom:
    def __init__(self, seed: int, first: int, n: int) -> None:
        if first % BLOCK_SUBSCRIBERS:
            raise ValueError("a chunk must start on a block boundary")
        first_block = first // BLOCK_SUBSCRIBERS
        n_blocks = -(-n // BLOCK_SUBSCRIBERS)
        self._gens = [
            np.random.default_rng([seed, 0x5E_ED, first_block + b]) for b in range(n_blocks)
        ]
        self._bounds = np.minimum(np.arange(n_blocks + 1) * BLOCK_SUBSCRIBERS, n)
        self.n = n

    def _draw(self, sub: np.ndarray, method: str, tail: tuple[int, ...], kw: dict[str, Any]):
        cuts = np.searchsorted(sub, self._bounds)
        parts = []
        for b, gen in enumerate(self._gens):
            lo, hi = int(cuts[b]), int(cuts[b + 1])
            args = {
                k: (v[lo:hi] if isinstance(v, np.ndarray) and v.ndim and len(v) == len(sub) else v)
                for k, v in kw.items()
            }
            if tail:
                # A per-subscriber parameter applies to the subscriber's whole row.
                args = {
                    k: (
                        v.reshape((-1,) + (1,) * len(tail))
                        if isinstance(v, np.ndarray) and v.ndim == 1
                        else v
                    )
                    for k, v in args.items()
                }
            parts.append(getattr(gen, method)(size=(hi - lo, *tail), **args))
        if not parts:
            return np.zeros((0, *tail))
        return np.concatenate(parts)

    def per_subscriber(self, method: str, tail: tuple[int, ...] = (), **kw: Any) -> np.ndarray:
        """One draw (or one row of shape `tail`) per subscriber; array kwargs are per subscriber."""
        return self._draw(np.arange(self.n), method, tail, kw)

    def per_item(self, sub: np.ndarray, method: str, **kw: Any) -> np.ndarray:
        """One draw per item; items must be sorted by their (chunk-local) subscriber index."""
        return self._draw(sub, method, (), kw)
