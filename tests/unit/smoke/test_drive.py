"""The route loop: next route on a soft or unreachable failure, bounded waits, blocked."""

from __future__ import annotations

from collections.abc import Iterator

from fbplan.smoke import Attempt, Failure, SmokeReport, SmokeStep, TargetResult
from fbplan.smoke.runner import Route, drive


def scripted(endpoint: str, outcomes: Iterator[Failure | None], log: list[str]) -> Route:
    def run() -> Attempt:
        failure = next(outcomes)
        log.append(endpoint)
        step = SmokeStep("put", failure is None, 0.01, endpoint, "429" if failure else "ok")
        return Attempt([step], failure)

    return Route(endpoint, endpoint, run)


def target() -> TargetResult:
    return TargetResult("storage", "app", "app-rw", "repo.app.api_key.app-rw")


def run_drive(routes: list[Route], max_wait: float = 30.0) -> tuple[TargetResult, list, list]:
    result, steps, sleeps = target(), [], []
    drive(result, routes, emit=steps.append, sleep=sleeps.append, max_wait=max_wait)
    return result, steps, sleeps


def test_a_soft_limit_moves_to_the_next_endpoint() -> None:
    log: list[str] = []
    routes = [
        scripted("http://a", iter([Failure("soft")]), log),
        scripted("http://b", iter([None]), log),
    ]
    result, steps, sleeps = run_drive(routes)
    assert result.outcome == "passed" and log == ["http://a", "http://b"] and sleeps == []
    assert [s.name for s in steps] == ["switch"] and steps[0].endpoint == "http://b"


def test_a_429_burst_is_waited_out_honouring_retry_after() -> None:
    log: list[str] = []
    burst = iter([Failure("soft", 2.0), Failure("soft"), Failure("soft"), None])
    result, steps, sleeps = run_drive([scripted("http://a", burst, log)])
    assert result.outcome == "passed"
    assert sleeps == [2.0, 1.0, 2.0] and result.waited_seconds == 5.0
    assert [s.name for s in steps] == ["wait", "wait", "wait"]


def test_waits_are_bounded_then_the_target_is_blocked() -> None:
    log: list[str] = []
    endless = iter([Failure("soft")] * 100)
    result, _steps, sleeps = run_drive([scripted("http://a", endless, log)], max_wait=10.0)
    assert result.outcome == "blocked"
    assert sleeps == [1.0, 2.0, 4.0] and result.waited_seconds == 7.0 <= 10.0


def test_a_retry_after_beyond_the_bound_blocks_at_once() -> None:
    log: list[str] = []
    result, _, sleeps = run_drive([scripted("http://a", iter([Failure("soft", 60)]), log)], 30)
    assert result.outcome == "blocked" and sleeps == []


def test_hard_and_unreachable_failures_are_not_waited_on() -> None:
    log: list[str] = []
    result, _, sleeps = run_drive([scripted("http://a", iter([Failure("hard")]), log)])
    assert result.outcome == "failed" and sleeps == []
    result, _, sleeps = run_drive([scripted("http://a", iter([Failure("unreachable")]), log)])
    assert result.outcome == "failed" and sleeps == []


def test_a_failed_target_names_the_step_the_endpoint_and_the_fix() -> None:
    result = target()
    result.steps.append(SmokeStep("put", False, 0.1, "http://a", "the key is READ", "use WRITE"))
    result.outcome = "failed"
    report = SmokeReport([result])
    assert not report.ok
    problem = "smoke storage app/app-rw failed at step put at http://a: the key is READ"
    assert result.problem() == problem + ". Fix: use WRITE"
    error = report.error()
    assert error is not None and error.exit_code == 4 and str(error) == result.problem()
    assert "1 failed" in report.summary()


def test_a_blocked_target_says_how_long_it_waited() -> None:
    result = target()
    result.steps.append(SmokeStep("put", False, 0.1, "http://a", "quota or rate limit"))
    result.outcome, result.waited_seconds = "blocked", 7.0
    assert "is blocked by quota at step put" in result.problem()
    assert "waited 7.0 s in all" in result.problem()
