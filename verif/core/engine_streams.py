"""A cycle model of the matrix engine's stream timing (``hw.matmul.engine.MatmulEngine``: the
handshakes of ``ArrayControl``, ``TileLoader`` and ``TileDrain`` in ``hw/matmul/array.py``),
without its arithmetic: the engine's side of a testbench that measures a sequencer's cycles on a
D1-sized engine, which the Amaranth simulator could not run at useful speed (256 FMAs).

It takes beats (one per cycle unless the step at the FMA's c stage starts a tile from C that is
not complete, or the step leaving the FMA finishes a tile while the drain holds L tiles), C rows
(while fewer than L complete tiles are held), and offers each finished tile's rows on ``o`` from
a register, rows 0..T-1, ``row`` and ``last`` set, data and flags zero. The pipeline steps as the
array's does (on a beat, or on its own while no slot holds an unfinished tile).
"""

__all__ = ["EngineStreams"]


class EngineStreams:
    """The timing of ``MatmulEngine(config)``'s ``i``, ``c`` and ``o`` streams."""

    def __init__(self, config):
        self.config = config
        self.slots = config.interleave
        self.latency = config.fma_latency
        self.c_delay = config.fma_c_delay
        self.rows = config.tile_rows
        self.beats = 0          # beats taken
        self.tiles = 0          # tiles drained

    def process(self, beat, c, o):
        """The simulator process (``add_testbench(..., background=True)``) of the engine whose
        streams are ``beat`` (a sequencer's output), ``c`` (output) and ``o`` (its input)."""
        L, rows = self.slots, self.rows
        fields = beat.payload

        async def run(ctx):
            stages = [None] * (self.latency + 1)   # (first, load, last) or None; [0] unused
            live = [False] * L
            slot = 0
            c_count, c_row = 0, 0                  # complete C tiles; rows of the next
            d_count, d_row, o_valid, o_row = 0, 0, False, 0
            while True:
                at_c, leaving = stages[self.c_delay], stages[self.latency]
                wait_c = at_c is not None and at_c[0] and at_c[1] and c_count == 0
                wait_drain = leaving is not None and leaving[2] and d_count >= L
                stall = wait_c or wait_drain
                ctx.set(beat.ready, not stall)
                ctx.set(c.ready, c_count < L)
                ctx.set(o.valid, o_valid)
                ctx.set(o.payload.row, o_row)
                ctx.set(o.payload.last, o_row == rows - 1)
                _, _, b_valid, first, load, last, skip, c_valid, o_ready = await ctx.tick().sample(
                    beat.valid, fields.first, fields.load, fields.last, fields.skip, c.valid,
                    o.ready)
                pending = any(s is not None for s in stages[1:])
                en = not stall and (b_valid or (not any(live) and pending))
                pop = en and at_c is not None and at_c[0] and at_c[1]
                push = en and leaving is not None and leaving[2]
                # The drain's output register.
                advance = not o_valid or o_ready
                send = advance and d_count != 0
                finish = send and d_row == rows - 1
                if o_valid and o_ready and o_row == rows - 1:
                    self.tiles += 1
                if advance:
                    o_valid = d_count != 0
                if send:
                    o_row, d_row = d_row, 0 if finish else d_row + 1
                d_count += push - finish
                # The C loader.
                take = c_valid and c_count < L
                done = take and c_row == rows - 1
                if take:
                    c_row = 0 if done else c_row + 1
                c_count += done - pop
                # The pipeline and the slots.
                if en:
                    token = (bool(first), bool(load), bool(last)) if b_valid and not skip \
                        else None
                    stages = [None, token] + stages[1:-1]
                if b_valid and not stall:
                    self.beats += 1
                    live[slot] = not skip and not last
                    slot = (slot + 1) % L

        return run
