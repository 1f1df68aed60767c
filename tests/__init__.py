"""Fast tests that need no HDL simulator (``pytest tests/``; the quick tier is
``pytest -m quick``, see the root ``conftest.py``)."""

#: True under ``pytest -m quick`` (set by the root conftest.py before collection).
QUICK = False


def examples(n: int) -> int:
    """Hypothesis examples for a property test: ``n`` in the full run, a tenth (at least
    20) in the quick tier."""
    return max(20, n // 10) if QUICK else n


def let_children_take_ctrl_c() -> None:
    """Tests that press Ctrl-C on a child process need SIGINT not to be ignored: a shell
    starts background jobs (a CI script run with ``&``, ``nohup``) with SIGINT ignored, and
    an ignored signal stays ignored across ``exec``, so Python in the child would never
    raise KeyboardInterrupt. Catching it here (Python's own handler) resets it to the
    default in every child that execs."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def keep_on_chip_only(first: int, stop: int):
    """A context in which the planner considers keeping maps on chip only between steps
    ``first`` .. ``stop - 1`` (``model.cost.plan_residency`` on that window): so a test
    that runs a network's first steps sees a kept map and the map after it in DDR,
    where it can be read back."""
    import contextlib

    import model.cost as cost

    @contextlib.contextmanager
    def window():
        real = cost.plan_residency
        cost.plan_residency = lambda tilings, *args, **kwargs: (
            tilings[:first] + real(tilings[first:stop], *args, **kwargs) + tilings[stop:])
        try:
            yield
        finally:
            cost.plan_residency = real

    return window()


def band_group_only(first: int, stop: int, height: int):
    """A context in which the planner forms exactly one band group: steps ``first`` ..
    ``stop - 1`` in bands of ``height`` output rows of the last (``model.cost.band_group``),
    and no other; so a test that runs a network's first programs sees a band group
    whose last map reaches DDR, where it can be read back."""
    import contextlib

    import model.cost as cost

    @contextlib.contextmanager
    def window():
        real = cost.plan_bands

        def plan_bands(tilings, pe, act_depth, weight_depth, *args, **kwargs):
            steps = [t.step for t in tilings[first:stop]]
            return (tilings[:first] + cost.band_group(steps, pe, act_depth, weight_depth, height)
                    + tilings[stop:])

        real_steps = cost._plan_steps
        cost.plan_bands = plan_bands
        # every plan plan_network compares has the group (it may be slower than none)
        cost._plan_steps = lambda config, steps, bands=True, **kw: real_steps(config, steps, True, **kw)
        try:
            yield
        finally:
            cost.plan_bands, cost._plan_steps = real, real_steps

    return window()


def no_band_groups():
    """A context in which the planner forms no band group (``model.cost.plan_bands``)."""
    import contextlib

    import model.cost as cost

    @contextlib.contextmanager
    def window():
        real = cost._plan_steps
        cost._plan_steps = lambda config, steps, bands=True, **kw: real(config, steps, False, **kw)
        try:
            yield
        finally:
            cost._plan_steps = real

    return window()


def flip_load_half(schedule, sched, index: int) -> None:
    """Re-encode LOAD ``index`` of ``sched``'s program in ``schedule``'s DDR image with its
    buffer half flipped: a prefetch into the half the next program does not read."""
    from hw.instruction import INSTRUCTION_BYTES
    from sw.schedule import encode_instruction

    ins = sched.instructions[index]
    bad = dict(ins, load={**ins["load"], "half": ins["load"]["half"] ^ 1})
    at = sched.program.addr + INSTRUCTION_BYTES * index
    schedule.image[at:at + INSTRUCTION_BYTES] = encode_instruction(bad)
