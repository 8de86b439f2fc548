"""Answers already given, kept by request bytes: the hot path of a service asked the same questions.

Every rpc is a pure function of the serving model and the request, so the bytes answered once
are the answer again until the model changes; answers of an older model are never given. The
oldest answers go first once ``budget`` bytes are kept; a budget of 0 keeps none. Safe to
share between threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from service.store import LoadedModel

# What an answer costs in memory beside its bytes and its request's: two bytes objects, the key
# tuple and the ordered dict's entry (measured: 290 bytes of request and answer take 564).
ENTRY_BYTES = 280


class Answers:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._model: LoadedModel | None = None
        self._kept: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, model: LoadedModel, method: str, request: bytes) -> bytes | None:
        if model is not self._model:  # a swap: what the old model said no longer holds
            with self._lock:
                self._model, self._size = model, 0
                self._kept.clear()
        return self._kept.get((method, request))

    def keep(self, model: LoadedModel, method: str, request: bytes, answer: bytes) -> None:
        size = len(request) + len(answer) + ENTRY_BYTES
        if size > self.budget:
            return
        with self._lock:
            if model is not self._model or (method, request) in self._kept:
                return
            self._kept[method, request] = answer
            self._size += size
            while self._size > self.budget:
                (_, old_request), old_answer = self._kept.popitem(last=False)
                self._size -= len(old_request) + len(old_answer) + ENTRY_BYTES
