"""CSV import: the dry run lists every row's problem and changes nothing; the import runs as a job (through a real
burst arq worker) with progress; re-importing the same file changes nothing; updates by email are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.admin.services import import_plan, imports
from app.admin.tables import CsvImport, ImportStatus
from app.audit.tables import AuditEntry
from app.jobs.tables import JobOutbox
from app.people.services import load_current_user
from app.people.tables import Department, Employee, Role
from app.rules import RuleViolation
from tests.factories import make_department, make_employee
from tests.helpers import HTMX, post_form, signed_in

pytestmark = pytest.mark.usefixtures("db")  # every test here uses the database

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import"

ONE_OF_EACH = """name,email,department,manager,role,title
Good Row,good@example.com,IT,,employee,Engineer
Nobody Dept,nodept@example.com,!!!,,employee,
No Boss,noboss@example.com,IT,ghost@example.com,employee,
Dup One,dup@example.com,IT,,employee,
Dup Two,DUP@example.com,IT,,employee,
Bad Email,not-an-email,IT,,employee,
Loop A,loop.a@example.com,IT,loop.b@example.com,employee,
Loop B,loop.b@example.com,IT,loop.a@example.com,employee,
"""


@pytest.fixture
async def admin():
    hr = await make_department("HR", slug="hr")
    await make_department("IT", slug="it")
    person = await make_employee("Ada Admin", email="admin@example.com", role=Role.ADMIN, department=hr)
    return await load_current_user(person.id)


async def upload(client, content: str, kind: str = "people", name: str = "people.csv"):
    from tests.helpers import csrf_token

    return await client.post(
        "/admin/import",
        data={"_csrf_token": await csrf_token(client), "kind": kind},
        files={"file": (name, content.encode(), "text/csv")},
    )


async def test_the_dry_run_lists_one_problem_of_each_kind_and_changes_nothing(admin) -> None:
    people_before = await Employee.count()
    import_id = await imports.check_upload(admin, "people", "people.csv", ONE_OF_EACH.encode())
    item = await imports.get_import(import_id)
    found = {(p.row, p.column): p.message for p in item.problems}
    assert found == {
        (3, "department"): "“!!!” cannot be a department's name.",
        (4, "manager"): "Unknown manager ghost@example.com: not in the file nor among the people.",
        (6, "email"): "Duplicate email dup@example.com: also on row 5.",
        (7, "email"): "“not-an-email” is not a valid email address.",
        (8, "manager"): "Manager cycle: loop.a@example.com ends up managing themselves.",
        (9, "manager"): "Manager cycle: loop.b@example.com ends up managing themselves.",
    }
    assert item.status == ImportStatus.CHECKED and await Employee.count() == people_before
    with pytest.raises(RuleViolation, match="Fix the problems"):
        await imports.start(admin, import_id)
    assert await JobOutbox.count() == 0


async def test_a_cycle_through_people_already_here_is_found(admin) -> None:
    boss = await make_employee("Boss", email="boss@example.com")
    await make_employee("Report", email="report@example.com", manager=boss)
    plan = await import_plan.make_plan(
        imports.ImportKind.PEOPLE,
        "name,email,manager\nBoss,boss@example.com,report@example.com\n",
        admin_email=admin.email,
    )
    assert [p.message for p in plan.problems] == ["Manager cycle: boss@example.com ends up managing themselves."]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,mail\nA,a@example.com\n", "The header row lacks the column: email."),
        ("name,email,shoe size\nA,a@example.com,42\n", "Unknown column: shoe size."),
        ("name,email\n", "The file has a header but no rows."),
        ("name,email\nA,a@example.com,extra\n", "This row has more cells than the header."),
        ("name,email,role\nA,a@example.com,boss\n", "Unknown role “boss”: use employee, manager or admin."),
    ],
)
async def test_file_level_problems(admin, content: str, message: str) -> None:
    plan = await import_plan.make_plan(imports.ImportKind.PEOPLE, content, admin_email=admin.email)
    assert any(message in p.message for p in plan.problems), plan.problems


async def test_unreadable_uploads_are_refused_with_a_message(client_factory, admin) -> None:
    client = await signed_in(await client_factory(), admin.email)
    latin1 = await client.post(
        "/admin/import",
        data={"_csrf_token": client.cookies["kudos_csrf"], "kind": "people"},
        files={"file": ("p.csv", "name,email\nJosé,j@example.com\n".encode("latin-1"), "text/csv")},
    )
    assert latin1.status_code == 422 and "UTF-8" in latin1.text
    empty = await upload(client, "")
    assert empty.status_code == 422 and "this one is empty" in empty.text
    no_kind = await upload(client, "name,email\nA,a@example.com\n", kind="pets")
    assert no_kind.status_code == 422 and "people or departments" in no_kind.text
    assert await CsvImport.count() == 0


async def test_a_file_with_nul_bytes_is_refused_like_other_unreadable_files(client_factory, admin) -> None:
    client = await signed_in(await client_factory(), admin.email)
    for content in (
        "name,email\nA\x00,a@example.com\n",
        "name,email\nA,a@example.com\n".encode("utf-16").decode("latin-1"),
    ):
        response = await client.post(
            "/admin/import",
            data={"_csrf_token": client.cookies["kudos_csrf"], "kind": "people"},
            files={"file": ("p.csv", content.encode("latin-1"), "text/csv")},
        )
        assert response.status_code == 422 and "NUL characters" in response.text
    assert await CsvImport.count() == 0


async def test_lone_carriage_returns_end_lines_and_a_broken_header_is_a_problem(client_factory, admin) -> None:
    client = await signed_in(await client_factory(), admin.email)
    response = await upload(client, "name,email\rAna,ana@example.com\rBo,bo@example.com\r")
    assert response.status_code == 303, response.text
    item = await imports.get_import(int(response.headers["location"].rsplit("/", 1)[1]))
    assert item.problems == [] and item.total == 2 and item.created == 2
    huge_header = await import_plan.make_plan(
        imports.ImportKind.PEOPLE, '"' + "n" * 200_000 + '",email\n', admin_email=admin.email
    )
    assert [p.message for p in huge_header.problems] == [
        "This is not valid CSV (field larger than field limit (131072))."
    ]


async def test_the_admin_importing_cannot_demote_themselves(client_factory, admin) -> None:
    client = await signed_in(await client_factory(), admin.email)
    response = await upload(client, "name,email,role\nAda Admin,ADMIN@example.com,employee\nBo,bo@example.com,admin\n")
    assert response.status_code == 303
    import_id = int(response.headers["location"].rsplit("/", 1)[1])
    item = await imports.get_import(import_id)
    assert item.problems == [
        import_plan.Problem(row=2, column="role", message="You can't take away your own admin role; ask another admin.")
    ]
    assert "take away your own admin role" in (await client.get(f"/admin/import/{import_id}")).text
    assert (await post_form(client, f"/admin/import/{import_id}/run")).status_code == 409
    assert (await Employee.objects().get(Employee.email == admin.email)).role == Role.ADMIN
    unchanged = await upload(client, "name,email,role\nAda Admin,admin@example.com,admin\n")
    assert unchanged.status_code == 303
    assert (await imports.get_import(int(unchanged.headers["location"].rsplit("/", 1)[1]))).problems == []


async def _import(client, run_worker, content: str, kind: str = "people") -> dict:
    response = await upload(client, content, kind)
    assert response.status_code == 303, response.text
    import_id = int(response.headers["location"].rsplit("/", 1)[1])
    checked = await client.get(f"/admin/import/{import_id}")
    assert "No problems in" in checked.text, checked.text
    started = await post_form(client, f"/admin/import/{import_id}/run")
    assert started.status_code == 303
    queued = await client.get(f"/admin/import/{import_id}/progress", headers=HTMX)
    assert 'hx-trigger="every 1s"' in queued.text and "Waiting for the background worker" in queued.text
    worker = await run_worker()
    assert worker.jobs_failed == 0
    return await imports.get_import(import_id)


async def test_departments_then_people_through_a_real_worker_and_again_changes_nothing(
    client_factory, admin, run_worker
) -> None:
    client = await signed_in(await client_factory(), admin.email)
    departments = await _import(client, run_worker, (FIXTURES / "departments.csv").read_text(), "departments")
    assert departments.status == ImportStatus.DONE
    assert (departments.created, departments.updated, departments.unchanged) == (4, 0, 0)
    child = await Department.select(Department.parent.slug.as_alias("parent")).where(Department.slug == "logistics")
    assert child == [{"parent": "operations"}]

    people_file = (FIXTURES / "people.csv").read_text()
    result = await _import(client, run_worker, people_file)
    assert result.status == ImportStatus.DONE and result.processed == result.total == 5
    assert (result.created, result.updated, result.unchanged) == (5, 0, 0)
    tom = (
        await Employee.select(Employee.manager.email.as_alias("manager"), Employee.role)
        .where(Employee.email == "tom.reyes@example.org")
        .first()
    )
    assert tom == {"manager": "amira.haddad@example.org", "role": "employee"}
    done = await client.get(f"/admin/import/{result.id}/progress", headers=HTMX)
    assert "every 1s" not in done.text and "Import finished" in done.text and "tom.reyes@example.org" in done.text
    found = await client.get("/admin/people?q=reyes")
    assert "Tom Reyes" in found.text

    snapshot = await Employee.select().order_by(Employee.id)
    again = await _import(client, run_worker, people_file)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert await Employee.select().order_by(Employee.id) == snapshot
    assert "Every row was already up to date" in (await client.get(f"/admin/import/{again.id}")).text

    changed = people_file.replace(",Buyer", ",Senior Buyer")
    update = await _import(client, run_worker, changed)
    assert (update.created, update.updated, update.unchanged) == (0, 1, 4)
    assert [r for r in update.report if r.outcome == "updated"] == [
        imports.ReportLine(row=4, key="tom.reyes@example.org", outcome="updated", changed=["title"])
    ]
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]
    assert actions == ["import.start", "import.finish"] * 4


async def test_the_job_resumes_after_its_last_committed_batch(admin, monkeypatch) -> None:
    monkeypatch.setattr(imports, "BATCH", 2)
    rows = "".join(f"Person {n},p{n}@example.com,IT,,employee,\n" for n in range(5))
    import_id = await imports.check_upload(
        admin, "people", "p.csv", f"name,email,department,manager,role,title\n{rows}".encode()
    )
    await imports.start(admin, import_id)
    calls = 0
    original = imports._apply_people

    async def crash_on_second_batch(batch):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("worker killed")
        return await original(batch)

    monkeypatch.setattr(imports, "_apply_people", crash_on_second_batch)
    assert await imports.run(import_id) == ImportStatus.FAILED
    item = await imports.get_import(import_id)
    assert item.processed == 2 and await Employee.count().where(Employee.email.like("p%@example.com")) == 2

    await CsvImport.update({CsvImport.status: ImportStatus.QUEUED}).where(CsvImport.id == import_id)
    assert await imports.run(import_id) == ImportStatus.DONE
    item = await imports.get_import(import_id)
    assert (item.processed, item.created, item.unchanged) == (5, 5, 0)


async def test_the_job_refuses_a_file_that_no_longer_fits(admin) -> None:
    import_id = await imports.check_upload(admin, "people", "p.csv", b"name,email,department\nA,a@example.com,IT\n")
    await imports.start(admin, import_id)
    await Department.update({Department.archived_at: Department.created_at}).where(Department.slug == "it")
    assert await imports.run(import_id) == ImportStatus.FAILED
    item = await imports.get_import(import_id)
    assert "The department “IT” is archived." in item.error and await Employee.count() == 1


async def test_an_import_whose_job_died_mid_way_is_restarted_by_the_sweeper_after_its_last_batch(
    admin, run_worker, monkeypatch
) -> None:
    import asyncio
    from datetime import timedelta

    monkeypatch.setattr(imports, "BATCH", 2)
    monkeypatch.setattr(imports, "STALE", timedelta(milliseconds=300))
    content = "name,email\n" + "".join(f"Person {n},p{n}@example.com\n" for n in range(6))
    import_id = await imports.check_upload(admin, "people", "people.csv", content.encode())
    await imports.start(admin, import_id)
    await JobOutbox.update({JobOutbox.enqueued_at: imports.now()}, force=True)  # its job is lost with its worker

    real_apply, stuck = imports._apply_people, asyncio.Event()

    async def dies_in_the_second_batch(batch):
        if (await CsvImport.select(CsvImport.processed).first())["processed"] >= 2:
            stuck.set()
            await asyncio.Event().wait()  # the worker is killed here
        return await real_apply(batch)

    monkeypatch.setattr(imports, "_apply_people", dies_in_the_second_batch)
    job = asyncio.create_task(imports.run(import_id))
    await asyncio.wait_for(stuck.wait(), 10)
    job.cancel()
    item = await imports.get_import(import_id)
    assert (item.status, item.processed) == (ImportStatus.RUNNING, 2)
    monkeypatch.setattr(imports, "_apply_people", real_apply)

    await asyncio.sleep(0.4)  # no sign of life for longer than STALE
    await run_worker()  # its start-up sweep restarts the import
    item = await imports.get_import(import_id)
    assert (item.status, item.processed, item.created) == (ImportStatus.DONE, 6, 6)
    assert sorted(entry.row for entry in item.report) == list(range(2, 8))  # every row once
    assert await Employee.count().where(Employee.email.like("p%@example.com")) == 6


async def _snapshot() -> tuple[dict[int, dict], dict[int, dict]]:
    departments = await Department.select().order_by(Department.id)
    people = await Employee.select(
        Employee.id, Employee.name, Employee.email, Employee.title, Employee.department, Employee.manager, Employee.role
    )
    return {row["id"]: row for row in departments}, {row["id"]: row for row in people}


async def _import_example(admin, kind: str) -> dict:
    content = (FIXTURES / f"{kind}.csv").read_bytes()
    import_id = await imports.check_upload(admin, kind, f"{kind}.csv", content)
    checked = await imports.get_import(import_id)
    assert checked.problems == [], checked.problems
    await imports.start(admin, import_id)
    assert await imports.run(import_id) == ImportStatus.DONE
    return checked


@pytest.mark.parametrize("demo", [True, False], ids=["demo", "empty"])
@pytest.mark.parametrize(
    "order", [("departments", "people"), ("people", "departments")], ids=["deps-first", "people-first"]
)
async def test_the_example_files_import_cleanly_in_either_order_changing_nothing_that_exists(demo, order) -> None:
    from app.demo.seed import seed_demo

    if demo:
        await seed_demo(activity=False)
        person = await Employee.select(Employee.id).where(Employee.email == "admin@example.com").first()
    else:  # an empty organisation: only the admin made by `kudos createadmin`
        person = await make_employee("Ada Admin", email="ada@example.com", role=Role.ADMIN)
    admin = await load_current_user(person["id"] if demo else person.id)
    departments_before, people_before = await _snapshot()

    first, second = [await _import_example(admin, kind) for kind in order]
    if order[0] == "people":  # the people file names departments that do not exist yet: it creates them
        assert first.preview.new_departments == ["Data & Analytics", "Logistics", "Operations", "Procurement"]
        assert second.updated == 4  # … and the departments file then fills in their parents and descriptions
        assert {u.key: u.changed for u in second.preview.updates}["procurement"] == [
            "description",
            "parent",
        ]
    else:
        assert first.preview.new_departments == [] and second.preview.new_departments == []
    departments_after, people_after = await _snapshot()
    assert {i: departments_after[i] for i in departments_before} == departments_before  # nothing that existed moved
    assert {i: people_after[i] for i in people_before} == people_before
    assert len(departments_after) == len(departments_before) + 4 and len(people_after) == len(people_before) + 5

    by_slug = {row["slug"]: row for row in departments_after.values()}
    assert by_slug["procurement"]["parent"] == by_slug["logistics"]["parent"] == by_slug["operations"]["id"]
    assert by_slug["data-analytics"]["name"] == "Data & Analytics" and by_slug["data-analytics"]["parent"] is None
    assert by_slug["logistics"]["description"].startswith("Inbound deliveries")
    tom = (
        await Employee.select(Employee.department.slug, Employee.manager.email)
        .where(Employee.email == "tom.reyes@example.org")
        .first()
    )
    assert tom == {"department.slug": "procurement", "manager.email": "amira.haddad@example.org"}
    # importing both again changes nothing
    for kind in order:
        again = await _import_example(admin, kind)
        assert (again.created, again.updated) == (0, 0)
