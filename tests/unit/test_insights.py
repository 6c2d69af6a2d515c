"""Insights services (SPEC B3, B4, B6): the measures, the detectors, scope, privacy of evidence, review marks,
CSV export and the jobs."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from app.audit.tables import AuditEntry
from app.insights import figures, rollups, runs, scope, service_map, signals
from app.insights.detection import DEFAULT_CONCENTRATION_PERCENT, Flow, detect, strongly_connected
from app.insights.tables import DetectionRun, Finding, FindingReview, RunStatus, SignalKind
from app.jobs.tables import JobOutbox
from app.kudos.forms import GiveForm
from app.kudos.giving import give_kudos
from app.people.services import load_current_user
from app.people.tables import Role
from app.rules import RuleViolation
from tests.factories import make_department, make_employee, make_lead, make_request

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    finance = await make_department("Finance", slug="finance")
    sales = await make_department("Sales", slug="sales")
    boss = await make_employee("Boss Lead", department=it, role=Role.MANAGER, email="boss@example.com")
    await make_lead(it, boss)
    fin_boss = await make_employee("Fay Manager", department=finance, role=Role.MANAGER, email="fay@example.com")
    return {
        "it": it,
        "finance": finance,
        "sales": sales,
        "boss": boss,
        "fay": fin_boss,
        "ravi": await make_employee("Ravi Resolver", department=it, manager=boss, email="ravi@example.com"),
        "ivy": await make_employee("Ivy Quiet", department=it, manager=boss, email="ivy@example.com"),
        "gina": await make_employee("Gina Giver", department=finance, manager=fin_boss, email="gina@example.com"),
        "otto": await make_employee("Otto Other", department=finance, manager=fin_boss, email="otto@example.com"),
        "sam": await make_employee("Sam Seller", department=sales, email="sam@example.com"),
        "admin": await make_employee("Ada Admin", role=Role.ADMIN, email="ada@example.com"),
    }


async def give(giver, *recipients, points: int = 10, private: bool = False, request_id: int | None = None) -> int:
    form = GiveForm(
        recipient_ids=[r.id for r in recipients],
        message=f"Thanks! {giver.name} says so.",
        points=str(points),
        visibility="private" if private else "public",
        request_id=request_id,
    )
    return (await give_kudos(await load_current_user(giver.id), form)).kudos_id


async def scope_of(person) -> scope.Scope:
    return await scope.scope_for(await load_current_user(person.id))


# ------------------------------------------------------------------------------------------------ pure parts


def test_gini_and_top_share() -> None:
    assert rollups.gini([5, 5, 5, 5]) == 0
    assert rollups.gini([0, 0, 0, 10]) == pytest.approx(0.75)
    assert rollups.gini([]) == 0 and rollups.gini([0, 0]) == 0
    assert rollups.top_share([10] + [0] * 9) == 1
    assert rollups.top_share([1] * 20) == pytest.approx(0.1)


def test_strongly_connected_components() -> None:
    components = strongly_connected({1: [2], 2: [3], 3: [1, 4], 4: [5], 5: [4], 6: []})
    assert sorted(sorted(c) for c in components) == [[1, 2, 3], [4, 5], [6]]


def _flows(giver: int, recipient: int, points: int, months: list[date], late: int = 0) -> list[Flow]:
    return [Flow(giver, recipient, m, points, late) for m in months]


MONTHS = [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]


def _detect(flows_: list[Flow], percent: int = 50, late_kudos: int = 2) -> dict[SignalKind, set[tuple[int, ...]]]:
    found = detect(
        flows_,
        late_kudos={(f.giver, f.month): late_kudos for f in flows_ if f.late_points},
        budgets={30: 300},  # giver 30's allowance over the window; everyone else: 100 a month
        month_budgets={},
        default_budget=100,
        month_ends=set(MONTHS),
        concentration_percent=percent,
    )
    result: dict[SignalKind, set[tuple[int, ...]]] = {kind: set() for kind in SignalKind}
    for signal in found:
        result[signal.kind].add(signal.people)
    return result


def test_detectors_flag_each_pattern_and_leave_ordinary_giving_alone() -> None:
    flows_ = []
    flows_ += _flows(1, 2, 60, MONTHS) + _flows(2, 1, 60, MONTHS) + _flows(1, 9, 20, MONTHS[:1])  # a pair
    for a, b in [(10, 11), (11, 12), (12, 10), (10, 12), (11, 10), (12, 11)]:  # a ring of three
        flows_ += _flows(a, b, 30, MONTHS)
    flows_ += _flows(20, 21, 40, MONTHS, late=40) + _flows(20, 22, 30, MONTHS, late=30)  # a month-end dumper
    flows_ += _flows(30, 31, 80, MONTHS)  # a concentrated giver (240 of a 300 allowance)
    for giver in range(40, 60):  # ordinary people: a little to many
        for recipient in range(60, 70):
            flows_ += _flows(giver, recipient, 5, MONTHS[giver % 3 : giver % 3 + 1])
    found = _detect(flows_)
    assert found[SignalKind.RECIPROCAL] == {(1, 2)}
    assert found[SignalKind.RING] == {(10, 11, 12)}
    assert found[SignalKind.DUMPING] == {(20, 21, 22)}
    assert (30, 31) in found[SignalKind.CONCENTRATION]
    flagged = {p for people in found.values() for group in people for p in group}
    assert not flagged & set(range(40, 70))


def test_one_big_kudos_at_month_end_is_not_dumping() -> None:
    # one 35-point kudos to two people on the last days, every month: 70 points, but one kudos a month
    one = _flows(20, 21, 35, MONTHS, late=35) + _flows(20, 22, 35, MONTHS, late=35)
    assert _detect(one, late_kudos=1)[SignalKind.DUMPING] == set()
    assert _detect(one, late_kudos=2)[SignalKind.DUMPING] == {(20, 21, 22)}


def test_one_month_of_a_pattern_is_not_a_pair_and_the_threshold_is_a_setting() -> None:
    once = _flows(1, 2, 60, MONTHS[:1]) + _flows(2, 1, 60, MONTHS[1:2])  # both ways, never in the same month
    assert _detect(once)[SignalKind.RECIPROCAL] == set()
    half = _flows(30, 31, 50, MONTHS)  # 150 of 300: exactly half
    assert _detect(half, percent=50)[SignalKind.CONCENTRATION] == set()
    assert _detect(half, percent=40)[SignalKind.CONCENTRATION] == {(30, 31)}


def test_csv_is_utf8_with_bom_and_neutralises_formulas() -> None:
    table = scope.CsvTable("t", ("name", "points"), (("=HYPERLINK(\"x\")", -5), ("+1", 3), ("@me", 0),
                                                         ("-x", 1), ("Zoë", 2)))  # fmt: skip
    data = scope.to_csv(table)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["name", "points"]
    assert [r[0] for r in rows[1:]] == ['\'=HYPERLINK("x")', "'+1", "'@me", "'-x", "Zoë"]
    assert rows[1][1] == "-5"  # numbers stay numbers


# ----------------------------------------------------------------------------------------------- with data


async def test_scope_admin_everything_manager_own_departments_employee_refused(org) -> None:
    assert (await scope_of(org["admin"])).everything
    boss = await scope_of(org["boss"])
    assert boss.departments == {org["it"].id}
    assert boss.people == {org["boss"].id, org["ravi"].id, org["ivy"].id}
    with pytest.raises(RuleViolation) as refused:
        await scope_of(org["ravi"])
    assert refused.value.status_code == 403


async def test_participation_and_equity_count_private_kudos(org) -> None:
    await give(org["gina"], org["ravi"], points=30)
    await give(org["otto"], org["ravi"], points=40, private=True)
    await rollups.refresh_recent()
    period = scope.period_for("month")
    view = await figures.participation(await scope_of(org["admin"]), period)
    rows = {r.department: r for r in view.rows}
    assert (rows["Finance"].active, rows["Finance"].gave, rows["Finance"].received) == (3, 2, 0)
    assert (rows["IT"].active, rows["IT"].received) == (3, 1)
    assert rows["Finance"].allowance_used == pytest.approx(70 / 300)
    assert view.total.active == 7 and view.total.gave == 2
    assert len(view.trend.labels) == 12

    equity = await figures.equity(await scope_of(org["admin"]), period)
    it = next(r for r in equity.rows if r.department == "IT")
    assert it.points == 70 and it.per_head == pytest.approx(70 / 3)
    assert it.top10 == 1 and it.gini == pytest.approx(2 / 3)
    assert [p.name for p in equity.receivers] == ["Ravi Resolver"]
    # A manager of IT sees IT's people but not Finance's givers (people-level figures of another department).
    boss_view = await figures.equity(await scope_of(org["boss"]), period)
    assert [p.name for p in boss_view.receivers] == ["Ravi Resolver"]
    assert boss_view.givers == () and len(boss_view.rows) == len(equity.rows)


async def test_invisible_contributors_and_thanked_rate(org) -> None:
    thanked = await make_request(org["gina"], org["it"], resolvers=(org["ravi"],), status="completed")
    await make_request(org["otto"], org["it"], resolvers=(org["ivy"],), status="completed")
    await rollups.refresh_recent()
    view = await figures.invisible(await scope_of(org["admin"]), scope.period_for("month"))
    assert {p.name for p in view.people} == {"Ravi Resolver", "Ivy Quiet"}
    assert all(p.silent_days == 90 and p.last_recognised is None for p in view.people)
    assert view.counts == (("IT", 2, 2, 2),)

    await give(org["gina"], org["ravi"], request_id=thanked)
    await rollups.refresh_recent()
    view = await figures.invisible(await scope_of(org["admin"]), scope.period_for("month"))
    assert [p.name for p in view.people] == ["Ivy Quiet"]
    (rate,) = view.rates
    assert (rate.department, rate.completed, rate.thanked) == ("IT", 2, 1)
    # Fay manages Finance: IT's unthanked people are not hers to see; the thanked rates (department-level) are.
    fay = await figures.invisible(await scope_of(org["fay"]), scope.period_for("month"))
    assert fay.people == () and fay.counts == () and len(fay.rates) == 1
    boss = await figures.invisible(await scope_of(org["boss"]), scope.period_for("month"))
    assert [p.name for p in boss.people] == ["Ivy Quiet"] and boss.counts == (("IT", 1, 1, 1),)


async def test_service_map_and_department_partners(org) -> None:
    request_id = await make_request(org["gina"], org["it"], resolvers=(org["ravi"],), status="completed")
    await give(org["gina"], org["ravi"], points=20, request_id=request_id)
    await give(org["sam"], org["ivy"], points=5)
    await rollups.refresh_recent()
    view = await service_map.service_map(scope.period_for("month"))
    links = {(lk.supplier, lk.customer): (lk.requests, lk.kudos, lk.points) for lk in view.links}
    assert links == {("IT", "Finance"): (1, 1, 20), ("IT", "Sales"): (0, 1, 5)}
    assert {n.label for n in view.picture.nodes} == {"IT", "Finance", "Sales"}
    assert len(view.picture.edges) == 2 and view.refreshed_at is not None
    it = await service_map.partners(org["it"].id)
    assert [lk.customer for lk in it.customers] == ["Finance", "Sales"] and it.suppliers == ()
    finance = await service_map.partners(org["finance"].id)
    assert [lk.supplier for lk in finance.suppliers] == ["IT"]


async def _concentration_run(org) -> tuple[int, int]:
    """Gina sends Otto 60 points (one kudos private); detection with a 10 % threshold flags it."""
    await give(org["gina"], org["otto"], points=30)
    private = await give(org["gina"], org["otto"], points=30, private=True)
    await signals.set_concentration(await load_current_user(org["admin"].id), "10")
    run_id = await runs.start_run(runs.RunKind.ON_DEMAND, runs.last_days(), label="test")
    assert await runs.execute_run(run_id) == 1
    assert await runs.execute_run(run_id) is None  # a finished run is left alone
    return run_id, private


async def test_signal_evidence_hides_private_messages_from_admins_but_not_from_the_managers_f3_allows(org) -> None:
    run_id, private = await _concentration_run(org)
    admin_view = await signals.signals(await scope_of(org["admin"]), run_id=run_id)
    (signal,) = admin_view.signals
    assert signal.kind == SignalKind.CONCENTRATION and [p.name for p in signal.people] == ["Gina Giver", "Otto Other"]
    assert "Gina Giver sent Otto Other" in signal.explanation and len(signal.evidence) == 2

    detail = await signals.signal_detail(await scope_of(org["admin"]), signal.id)
    messages = {k.id: k.message for k in detail.evidence}
    assert messages[private] is None and sum(m is not None for m in messages.values()) == 1
    fay = await signals.signal_detail(await scope_of(org["fay"]), signal.id)  # Otto's manager (F3)
    assert all(k.message for k in fay.evidence)
    # Outside the IT manager's scope: not listed, and no detail.
    assert (await signals.signals(await scope_of(org["boss"]), run_id=run_id)).signals == ()
    with pytest.raises(RuleViolation) as hidden:
        await signals.signal_detail(await scope_of(org["boss"]), signal.id)
    assert hidden.value.status_code == 404


async def test_review_marks_are_audited_and_follow_the_pattern_into_later_runs(org) -> None:
    run_id, _ = await _concentration_run(org)
    finding = await Finding.select().where(Finding.run == run_id).first()
    admin = await load_current_user(org["admin"].id)
    with pytest.raises(RuleViolation):
        await signals.review_signal(admin, finding["id"], "maybe", "")
    with pytest.raises(RuleViolation) as refused:
        await signals.review_signal(await load_current_user(org["fay"].id), finding["id"], "fine", "")
    assert refused.value.status_code == 403
    assert await FindingReview.count() == 0

    detail = await signals.review_signal(admin, finding["id"], "fine", "  Otto is Gina's mentee. ")
    assert detail.signal.review_label == "Reviewed — fine"
    entry = await AuditEntry.select().where(AuditEntry.action == "insights.signal_reviewed").first()
    assert entry["actor"] == org["admin"].id and entry["target_id"] == finding["id"]
    assert "Otto is Gina's mentee." in entry["after"]

    again = await runs.start_run(runs.RunKind.ON_DEMAND, runs.last_days(), label="again")
    await runs.execute_run(again)
    (later,) = (await signals.signals(await scope_of(org["admin"]), run_id=again)).signals
    assert later.review_label == "Reviewed — fine"


async def test_threshold_setting_is_validated_and_audited(org) -> None:
    admin = await load_current_user(org["admin"].id)
    for bad in ("5", "101", "abc", ""):
        with pytest.raises(RuleViolation) as refused:
            await signals.set_concentration(admin, bad)
        assert "concentration_percent" in refused.value.errors
    assert await runs.concentration_percent() == DEFAULT_CONCENTRATION_PERCENT
    assert await signals.set_concentration(admin, " 35 ") == 35
    assert await runs.concentration_percent() == 35
    assert await AuditEntry.count().where(AuditEntry.action == "insights.settings_changed") == 1


async def test_on_demand_run_goes_through_the_outbox_and_a_real_worker(org, run_worker) -> None:
    await _concentration_run(org)
    run_id = await signals.request_run(await load_current_user(org["admin"].id), scope.period_for("month"))
    assert await JobOutbox.count().where(JobOutbox.function == "detect_collusion") == 1
    await run_worker()
    run = await DetectionRun.select().where(DetectionRun.id == run_id).first()
    assert run["status"] == RunStatus.DONE and run["findings"] == 1 and run["label"] == scope.period_for("month").label
    # The worker's start also ran the nightly pass once; a second start within the day does not repeat it.
    nightly = await DetectionRun.count().where(DetectionRun.kind == "nightly")
    assert nightly == 1
    await run_worker()
    assert await DetectionRun.count().where(DetectionRun.kind == "nightly") == 1


async def test_a_lost_on_demand_job_is_run_by_the_nightly_sweep(org) -> None:
    from app.jobs.worker import nightly_insights

    run_id = await runs.start_run(runs.RunKind.ON_DEMAND, runs.last_days(), label="lost")
    await nightly_insights({})
    assert (await DetectionRun.select().where(DetectionRun.id == run_id).first())["status"] == RunStatus.DONE
    assert await nightly_insights({}) is None  # the nightly pass already ran today


def test_periods_follow_the_board_windows() -> None:
    month = scope.period_for("month")
    assert month.end - month.start <= timedelta(days=31) and len(month.months) == 1
    assert len(scope.period_for("quarter").months) == 3 and len(scope.period_for("year").months) == 12
    assert scope.period_for("nonsense").name == "month"
