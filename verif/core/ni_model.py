"""Transaction-level model of the receive side of a core's network interface
(``hw/core/ni_receive.py``, docs/mesh.md "The receive side"): what each request packet does to
the scratchpad and the semaphores, and what it is answered. Plain Python on the packet formats
of ``hw/core/packets.py`` and the behavioural scratchpad (``verif/core/scratchpad_model.py``).
"""

from hw.core.isa import Error
from hw.core.isa import Signal as SignalLayout
from hw.core.packets import (
    LINE,
    MNOTIFY,
    NOTIFY,
    PULL,
    answer_packet,
    byte_mask,
    pull_error_packet,
    read_data_packet,
    status_code,
)

__all__ = ["NiReceiveModel"]


class NiReceiveModel:
    """The receive side of one core whose scratchpad is ``memory`` (a ``ScratchpadModel``).

    :meth:`take` does one request packet in arrival order and returns what it caused: a list of
    ``("answer", (header, data))`` and ``("signal", packed Signal)`` events. ``errors`` counts
    refused lines, refused pulls and unknown packets, as the RTL's ``errors`` does (unsaturated
    here). A PULL reads its line and is answered with it (READ_DATA) or, refused, with an
    ERROR of the read's code."""

    def __init__(self, memory):
        self.memory = memory
        self.codes = {}             # source (x, y) -> first refused line's code since its NOTIFY
        self.errors = 0

    def take(self, header, data):
        src = (header["src_x"], header["src_y"])
        op = header["op"]
        if op == LINE.value:
            answer = self.memory.access({"addr": header["addr"], "data": data,
                                         "mask": byte_mask(header["tag"]), "tag": 0}, 64)
            code = status_code(answer["status"])
            if code is not Error.NONE:
                self.errors += 1
                self.codes.setdefault(src, code)
            return []
        if op in (NOTIFY.value, MNOTIFY.value):
            code = self.codes.pop(src, Error.NONE)
            events = ([("answer", answer_packet(header, data, code))] if op == NOTIFY.value
                      else [])                  # a multicast push's end: not answered
            signal = data & ((1 << SignalLayout.size) - 1)
            if signal >> SignalLayout["enable"].offset & 1:
                events.append(("signal", signal))
            return events
        if op == PULL.value:
            got = self.memory.access({"addr": header["addr"], "tag": 0}, 64)
            code = status_code(got["status"])
            if code is not Error.NONE:
                self.errors += 1
                return [("answer", pull_error_packet(header, data, code))]
            return [("answer", read_data_packet(header, data, got["data"]))]
        self.errors += 1
        return []
