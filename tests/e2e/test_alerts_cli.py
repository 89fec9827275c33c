"""`memvault alerts` through the installed console script: a delete burst made with
`memvault forget` is listed, shown by status, refused an acknowledgement without the typed
confirmation, and reverted by a person."""

from __future__ import annotations

import pytest

from .test_cli import Cli, cli  # noqa: F401 - `cli` is the fixture `vault` builds on


@pytest.fixture
def vault(cli: Cli) -> Cli:  # noqa: F811
    cli.env["MEMVAULT_DELETE_BURST_COUNT"] = "3"  # more than 3 deletes within 60 s is a burst
    return cli


def test_a_person_reverts_a_delete_burst_made_from_the_cli(vault: Cli) -> None:
    assert vault.ok("alerts").strip() == "no open alerts"
    ids = [vault.remember(f"decision {i}", "--project", "p") for i in range(5)]
    for memory_id in ids[:3]:
        vault.ok("forget", memory_id)
    assert vault.json("alerts") == []  # three is the threshold, not a burst
    vault.ok("forget", ids[3])

    [alert] = vault.json("alerts")
    assert (alert["kind"], alert["state"], alert["tool"]) == ("delete_burst", "open", "cli")
    assert sorted(alert["evidence"]["memory_ids"]) == sorted(ids[:4])
    assert [a["id"] for a in vault.json("status")["alerts"]] == [alert["id"]]
    assert alert["id"][:8] in vault.ok("alerts")

    # A wrong typed confirmation changes nothing.
    wrong = vault.run("alerts", "ack", alert["id"], stdin="nope\n")
    assert wrong.returncode == 2
    assert "does not match" in wrong.stderr
    assert "4 deletes will replicate" in wrong.stderr
    assert [a["state"] for a in vault.json("alerts")] == ["open"]
    assert vault.run("show", ids[0]).returncode == 1  # still forgotten
    assert vault.counts() == (1, 4, 9)  # live, forgotten, outbox: 5 creates and 4 held deletes

    reverted = vault.ok("alerts", "revert", alert["id"][:8])
    assert f"restored 4 memories; alert {alert['id']} reverted" in reverted
    for number, memory_id in enumerate(ids[:4]):
        assert vault.json("show", memory_id)["content"] == f"decision {number}"
    assert vault.counts() == (5, 0, 5)  # the held deletes are gone; the creates still wait
    assert vault.ok("alerts").strip() == "no open alerts"
    assert [a["state"] for a in vault.json("alerts", "--all")] == ["reverted"]
    assert vault.json("status")["alerts"] == []

    again = vault.run("alerts", "revert", alert["id"])
    assert again.returncode == 2
    assert f"alert {alert['id']} is already reverted" in again.stderr

    unknown = vault.run("alerts", "ack", "unknown-id-123")
    assert unknown.returncode == 1
    assert "not found" in unknown.stderr
    assert vault.json("alerts", "--all")[0]["state"] == "reverted"
